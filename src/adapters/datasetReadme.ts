// The README that goes with an exported training set: what is in it and how to train and convert
// a QLoRA adapter from it. Plain text from the export's report.
import type { DatasetReport } from './dataset';

export function datasetReadme(report: DatasetReport): string {
  const skippedLine = Object.entries(report.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  return `# Training set for a project LoRA adapter

Exported by Enclave from this workspace. Nothing here has left your machine.

- files used: ${report.files}${skippedLine ? ` (skipped: ${skippedLine})` : ''}
- \`fim.jsonl\`: ${report.fimSamples} fill-in-the-middle samples, one \`{"text": …, "path": …}\` per line, in
  Qwen2.5-Coder's FIM format: \`<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>…<|endoftext|>\`
- \`chat.jsonl\`: ${report.chatSamples} of the same samples as chat messages (\`{"messages": [...]}\`), for an
  instruct model
- tokens: ${report.tokens}${report.tokensEstimated ? ' (estimated)' : ''}

Files git ignores (.gitignore, .git/info/exclude, your global excludes), secrets (.env files, keys,
credentials, kubeconfig, tfvars, files containing tokens, keys or passwords in URLs), binaries, lockfiles, minified/generated and huge files were left out. Read the samples
before you train: you are the judge of what your adapter should learn.

## Train a QLoRA adapter

Train on the **base** model your completions use (e.g. \`Qwen/Qwen2.5-Coder-7B\`) for \`fim.jsonl\`,
or on the instruct model for \`chat.jsonl\`. Any of these open tools works; keep the rank small
(8–16) and train 1–3 epochs:

- **PEFT + TRL** (Hugging Face): \`SFTTrainer\` with \`dataset_text_field="text"\`, a
  \`BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")\` base and a
  \`LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"])\`.
- **Unsloth**: \`FastLanguageModel.from_pretrained(..., load_in_4bit=True)\`, then
  \`FastLanguageModel.get_peft_model(model, r=16, ...)\` and the same trainer.
- **axolotl**: a config with \`adapter: qlora\`, \`load_in_4bit: true\` and
  \`datasets: [{path: fim.jsonl, type: completion}]\`.

Save the adapter (\`adapter_model.safetensors\` + \`adapter_config.json\`).

## Convert it to GGUF for Enclave

With a llama.cpp checkout (\`pip install -r requirements.txt\` there):

\`\`\`sh
python convert_lora_to_gguf.py path/to/adapter --base path/to/Qwen2.5-Coder-7B --outtype f16 \\
  --outfile my-project.gguf
\`\`\`

Put \`my-project.gguf\` into this workspace's \`.enclave/adapters/\` (or a folder listed in the
\`enclave.adapters.folders\` setting), then run **Enclave: Select LoRA Adapter for This Workspace**.
Enclave checks that the adapter was made for the loaded model (architecture and tensor shapes)
before applying it, and switches adapters without reloading the model.
`;
}
