// Ghost-text completion and next-edit suggestions must never be on screen together. Both ask here,
// per document version, just before they show something: whoever comes first for a version keeps
// it, the other stays quiet until the document changes. (Plain data, shared by the two features.)

interface Claim {
  uri: string;
  version: number;
}

export class InlineArbiter {
  private completion: Claim | undefined;
  private nextEdit: Claim | undefined;

  /** Called by the completion provider before it returns items; false: a next-edit suggestion is showing. */
  completionMayShow(uri: string, version: number): boolean {
    if (this.nextEdit && same(this.nextEdit, uri, version)) return false;
    this.completion = { uri, version };
    return true;
  }

  /** Called before a next-edit suggestion is shown; false: ghost text was offered for this version. */
  nextEditMayShow(uri: string, version: number): boolean {
    if (this.completion && same(this.completion, uri, version)) return false;
    this.nextEdit = { uri, version };
    return true;
  }

  /** The next-edit suggestion is gone (accepted, dismissed, invalidated). */
  releaseNextEdit(): void {
    this.nextEdit = undefined;
  }
}

function same(claim: Claim, uri: string, version: number): boolean {
  return claim.uri === uri && claim.version === version;
}

/** The one arbiter of the extension host (both features are bundled into one module graph). */
export const inlineArbiter = new InlineArbiter();
