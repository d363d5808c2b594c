// The contract between next-edit prediction (history, prompt formats, the model, output → edits)
// and its presentation in the editor. Plain data only: no vscode, no node-llama-cpp.
// Positions are zero-based lines and UTF-16 characters, as in VS Code.

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** One replacement in a document, in the coordinates of the version it was computed for. */
export interface PlainEdit {
  range: Range;
  newText: string;
}

/** A change the user (or a tool) made to a document, as VS Code reports it. */
export interface DocumentChange {
  uri: string;
  languageId: string;
  /** The document's version after the change. */
  version: number;
  /** The content changes of one `onDidChangeTextDocument` event, in the order VS Code gives them. */
  changes: { range: Range; rangeLength: number; text: string }[];
  /** The whole text after the change (the history derives hunks from it, bounded). */
  textAfter: string;
}

export interface NextEditRequest {
  uri: string;
  languageId: string;
  version: number;
  text: string;
  cursor: Position;
}

export interface NextEditSuggestion {
  uri: string;
  /** The document version the edits apply to; stale the moment the document changes. */
  version: number;
  /** Minimal, non-overlapping edits, sorted by position; never empty. */
  edits: PlainEdit[];
  /** Where the model predicts the cursor ends up after the edits (post-edit coordinates). */
  cursor?: Position;
}

export interface NextEditPredictor {
  /** Records a user edit; called for every change of a file the feature watches. */
  recordChange(change: DocumentChange): void;
  /** The next edit near the cursor, or undefined (no suggestion, never an error dialog). */
  predict(request: NextEditRequest, signal: AbortSignal): Promise<NextEditSuggestion | undefined>;
  dispose(): void;
}
