/** Types of cli/kept.mjs (plain JavaScript: it runs before tsx can load TypeScript). */
export function keptBundle(options?: { root?: string; entry?: string; dir?: string }): Promise<string | undefined>;
