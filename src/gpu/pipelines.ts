import { ShaderCompileError } from './errors.ts';
import { reflectProgram, type ProgramLayout } from './program.ts';

/** A compiled kernel variant: its reflected layout now, its pipeline when the driver is done. */
export interface CompiledProgram {
  key: string;
  label: string;
  layout: ProgramLayout;
  bindGroupLayout: GPUBindGroupLayout;
  pipeline: Promise<GPUComputePipeline>;
  /** Set once `pipeline` resolves, so the hot path avoids an await per dispatch. */
  ready: GPUComputePipeline | null;
}

/** Formats compiler messages with the offending WGSL line and a caret under the column. */
export function formatCompileMessages(source: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = source.split('\n');
  return messages
    .map((m) => {
      const where = m.lineNum > 0 ? `line ${m.lineNum}:${m.linePos}` : 'shader';
      const text = m.lineNum > 0 ? lines[m.lineNum - 1] ?? '' : '';
      const caret = m.lineNum > 0 ? `\n       ${' '.repeat(Math.max(0, m.linePos - 1))}^` : '';
      return `${where}: ${m.type}: ${m.message}${text ? `\n  ${String(m.lineNum).padStart(4)} | ${text}${caret}` : ''}`;
    })
    .join('\n');
}

/** Pipelines keyed by kernel name and variant; each variant is compiled once, asynchronously. */
export class PipelineCache {
  private readonly programs = new Map<string, CompiledProgram>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.programs.size;
  }

  get(name: string, variant: string, source: () => string): CompiledProgram {
    const key = variant ? `${name}:${variant}` : name;
    const cached = this.programs.get(key);
    if (cached) return cached;

    const code = source();
    const layout = reflectProgram(key, code);
    const bindGroupLayout = this.device.createBindGroupLayout({
      label: key,
      entries: layout.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.kind },
      })),
    });
    const program: CompiledProgram = { key, label: key, layout, bindGroupLayout, pipeline: null!, ready: null };
    program.pipeline = this.compile(key, code, layout, bindGroupLayout).then((p) => (program.ready = p));
    // Failures surface where the pipeline is awaited (the next flush); don't report them twice.
    program.pipeline.catch(() => undefined);
    this.programs.set(key, program);
    return program;
  }

  private async compile(key: string, code: string, layout: ProgramLayout, bindGroupLayout: GPUBindGroupLayout): Promise<GPUComputePipeline> {
    // Captured here so that a WGSL error is reported once, with its source line, not as a bare
    // uncaptured validation error.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: key });
    const scopeError = this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) throw new ShaderCompileError(key, formatCompileMessages(code, errors));
    const moduleError = await scopeError;
    if (moduleError) throw new ShaderCompileError(key, moduleError.message);
    try {
      return await this.device.createComputePipelineAsync({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout], label: key }),
        compute: { module, entryPoint: layout.entryPoint },
      });
    } catch (err) {
      throw new ShaderCompileError(key, (err as Error).message);
    }
  }
}
