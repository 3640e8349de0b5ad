// A configuration error says which key it is about and where the offending value came from, as
// data: callers decide by `origin.kind` (a bad override is a usage error), never by the message.

/** Where a configuration value came from. */
export type ConfigOrigin =
  /** The preset, or the table's default beneath it. */
  | { readonly kind: 'preset'; readonly preset: string }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'override'; readonly arg: string }
  /** The caller's own argument (resolveConfig's `preset`). */
  | { readonly kind: 'argument' };

function originText(o: ConfigOrigin): string {
  switch (o.kind) {
    case 'preset':
      return `preset ${o.preset}`;
    case 'file':
      return o.file;
    case 'override':
      return `override '${o.arg.length > 80 ? `${o.arg.slice(0, 80)}…` : o.arg}'`;
    case 'argument':
      return '';
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    /** The dotted key the error is about; null when it is about no one key (an unparsable file). */
    readonly key: string | null,
    readonly origin: ConfigOrigin,
    /** The problem itself, without the origin. */
    readonly detail: string,
  ) {
    const where = originText(origin);
    super(where ? `${where}: ${detail}` : detail);
  }
}
