/**
 * Names and values copied from a file into an error message are clipped: a hostile file can make
 * a tensor name or a shape megabytes long, and an error should stay one readable paragraph.
 */
const MAX_MESSAGE_PART = 600;

/** `text` itself when short; else its start and end with the number of characters left out between. */
export function clipText(text: string, max = MAX_MESSAGE_PART): string {
  if (text.length <= max) return text;
  const keep = Math.floor((max - 40) / 2);
  return `${text.slice(0, keep)}…(${text.length - 2 * keep} characters left out)…${text.slice(text.length - keep)}`;
}
