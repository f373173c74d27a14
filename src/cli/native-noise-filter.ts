/**
 * Dawn prints warnings from native code straight to the process's stderr when it opens an adapter
 * ("Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from … to 16 …"). They
 * mean nothing to a user and no JavaScript can intercept them in the same process, so the CLI runs
 * its commands in a child process and passes the child's stderr through this filter.
 * Only these known lines are dropped; everything else passes unchanged, partial lines (progress bars) at once.
 */

/**
 * Start-up lines from Dawn and the Vulkan loader that carry no information for users: Dawn's limit
 * notes, and the loader's search when a driver is broken or missing (the CLI's own "No WebGPU adapter"
 * error then says what to do), with Dawn's source location of the failed call.
 */
const NATIVE_NOISE = [
  /^Warning: max\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n$/,
  /^Warning: (loader_\w+|vkCreateInstance|vkEnumerate\w+)\b.*\n$/,
  /^Warning: \S+: cannot open shared object file\b.*\n$/,
  /^\s+at \w+ \(\S*dawn\S*:\d+\)\r?\n$/,
];
const NOISE_PREFIX = 'Warning: ';

export class NativeNoiseFilter {
  /** Text at the start of a line that might still turn out to be noise. */
  private held = '';
  /** Whether the current line has been let through already (its rest passes at once). */
  private passing = false;
  /** Whether the last complete line was dropped as noise. */
  private afterNoise = false;

  constructor(private readonly write: (text: string) => void) {}

  push(chunk: string): void {
    let text = this.held + chunk;
    this.held = '';
    let out = '';
    while (text !== '') {
      const newline = text.indexOf('\n');
      const line = newline < 0 ? text : text.slice(0, newline + 1);
      text = newline < 0 ? '' : text.slice(newline + 1);
      if (newline < 0) {
        // An unfinished line: pass it now unless it may still become noise.
        if (!this.passing && mayBeNoise(line)) this.held = line;
        else {
          out += line;
          this.passing = true;
        }
        continue;
      }
      if (this.passing) out += line;
      else if (NATIVE_NOISE.some((pattern) => pattern.test(line))) this.afterNoise = true;
      else if (this.afterNoise && /^\s*$/.test(line)) this.afterNoise = false; // the blank line closing Dawn's trace
      else {
        out += line;
        this.afterNoise = false;
      }
      this.passing = false;
    }
    if (out !== '') this.write(out);
  }

  /** At the end of the stream: whatever is held was not noise after all (noise ends with a newline). */
  end(): void {
    if (this.held !== '') this.write(this.held);
    this.held = '';
  }
}

/** Whether an unfinished line could still become noise (held until its newline, so never for long). */
function mayBeNoise(partialLine: string): boolean {
  if (/^[ \t]/.test(partialLine)) return true; // an indented trace line
  return partialLine.length < NOISE_PREFIX.length ? NOISE_PREFIX.startsWith(partialLine) : partialLine.startsWith(NOISE_PREFIX);
}
