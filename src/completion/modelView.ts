// What the completion core knows of the model that serves completions: its FIM template and the
// cache key (model file and adapters). Asked of the backend once, kept until the backend changes or
// reloads.
import type { Backend, EngineInfo } from '../engine/protocol';
import { fimTemplate, noFimMessage, type FimTemplate } from './templates';

export interface ModelView {
  info: EngineInfo;
  template: FimTemplate;
  key: string;
}

export class ModelViewCache {
  private model?: { backend: Backend; view: Promise<ModelView>; unsubscribe: () => void; stale: boolean; resolved: boolean };

  constructor(private readonly backend: () => Backend) {}

  /** The current backend's model view; rejects when its model has no FIM format. */
  get(): Promise<ModelView> {
    const backend = this.backend();
    if (this.model?.backend === backend && !this.model.stale) return this.model.view;
    this.reset();
    const view = backend.info().then((info) => {
      if (!info.fimFamily) throw new Error(noFimMessage(info.modelName || info.modelPath));
      const adapters = info.adapters.map((a) => `${a.path}@${a.scale}`).join(',');
      return { info, template: fimTemplate(info.fimFamily), key: `${info.modelPath}|${adapters}` };
    });
    const entry = { backend, view, unsubscribe: () => {}, stale: false, resolved: false };
    // A reload (new model, new adapters, restart) after the view was read makes it stale.
    entry.unsubscribe = backend.onState((state) => {
      if (state.kind !== 'ready' && entry.resolved) entry.stale = true;
    });
    view.then(
      () => (entry.resolved = true),
      () => (entry.stale = true),
    );
    this.model = entry;
    return view;
  }

  /** Forgets the view (the next `get` asks the backend again). */
  reset(): void {
    this.model?.unsubscribe();
    this.model = undefined;
  }
}
