/**
 * The catalogue of pretrained models pastiche knows (weights/manifest.json): for each model its
 * architecture kind, file format, license, and every file with its path in the mirror layout, its
 * public URL (pinned commit), byte size and sha256. Parsing is pure; loading the repo's copy needs Node.
 */

export const MODEL_KINDS = ['vgg19', 'transformer-net', 'lengstrom', 'magenta', 'distilled-vgg'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export const MODEL_FORMATS = ['vgg19-uint8', 'ncnn-bin', 'ml5-checkpoint', 'tflite', 'legacy-torch'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export interface ModelFile {
  /** path relative to the mirror / cache root, forward slashes (e.g. `transformer-net/candy.bin`) */
  path: string;
  /** where the file is published (raw.githubusercontent.com at a pinned commit) */
  url: string;
  bytes: number;
  /** lowercase hex sha256 of the exact bytes */
  sha256: string;
}

export interface ModelSource {
  repository: string;
  commit: string;
  path: string;
}

/**
 * A copy of the model that ships with pastiche in `weights/bundled/` (used before the cache, so the
 * default methods work offline): either the converted weights (`.safetensors`, possibly f16) or a
 * source file itself (then the same bytes as in `files`).
 */
export interface BundledFile {
  /** path relative to `weights/bundled/`, forward slashes */
  path: string;
  bytes: number;
  sha256: string;
}

export interface ModelEntry {
  name: string;
  kind: ModelKind;
  format: ModelFormat;
  description: string;
  license: string;
  source: ModelSource;
  files: ModelFile[];
  bundled?: BundledFile;
}

export interface WeightsManifest {
  version: 1;
  models: ModelEntry[];
}

/** The manifest checked into the repository. */
export const DEFAULT_MANIFEST_URL = new URL('../../../weights/manifest.json', import.meta.url);

/** Validates parsed JSON as a weights manifest; errors name the offending model / file and field. */
export function parseWeightsManifest(json: unknown, sourceName = 'weights manifest'): WeightsManifest {
  const fail = (where: string, problem: string): never => {
    throw new Error(`${sourceName}: ${where}: ${problem}`);
  };
  const root = asRecord(json) ?? fail('top level', 'not a JSON object');
  if (root.version !== 1) fail('version', `is ${JSON.stringify(root.version)}, this pastiche reads version 1`);
  if (!Array.isArray(root.models)) fail('models', 'is not a list');

  const seenNames = new Set<string>();
  const seenPaths = new Set<string>();
  const models = (root.models as unknown[]).map((rawModel, modelIndex): ModelEntry => {
    const model = asRecord(rawModel) ?? fail(`models[${modelIndex}]`, 'not an object');
    const name = stringField(model, 'name', `models[${modelIndex}]`, fail);
    const where = `model "${name}"`;
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) fail(where, 'name must be lowercase letters, digits, "_" or "-"');
    if (seenNames.has(name)) fail(where, 'listed twice');
    seenNames.add(name);

    const kind = stringField(model, 'kind', where, fail);
    if (!(MODEL_KINDS as readonly string[]).includes(kind)) fail(where, `kind "${kind}" is not one of ${MODEL_KINDS.join(', ')}`);
    const format = stringField(model, 'format', where, fail);
    if (!(MODEL_FORMATS as readonly string[]).includes(format)) fail(where, `format "${format}" is not one of ${MODEL_FORMATS.join(', ')}`);
    const sourceRecord = asRecord(model.source) ?? fail(where, '"source" is not an object');
    const source: ModelSource = {
      repository: stringField(sourceRecord, 'repository', `${where} source`, fail),
      commit: stringField(sourceRecord, 'commit', `${where} source`, fail),
      path: stringField(sourceRecord, 'path', `${where} source`, fail),
    };
    if (!Array.isArray(model.files) || model.files.length === 0) fail(where, '"files" is not a non-empty list');

    const files = (model.files as unknown[]).map((rawFile, fileIndex): ModelFile => {
      const fileWhere = `${where} files[${fileIndex}]`;
      const file = asRecord(rawFile) ?? fail(fileWhere, 'not an object');
      const path = stringField(file, 'path', fileWhere, fail);
      if (path.startsWith('/') || path.includes('\\') || path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
        fail(fileWhere, `path "${path}" must be relative, with forward slashes and no "." or ".." parts`);
      }
      if (seenPaths.has(path)) fail(fileWhere, `path "${path}" is listed twice`);
      seenPaths.add(path);
      const url = stringField(file, 'url', fileWhere, fail);
      if (!url.startsWith('https://')) fail(fileWhere, `url "${url}" is not https`);
      const bytes = file.bytes;
      if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) fail(fileWhere, '"bytes" is not a non-negative integer');
      const sha256 = stringField(file, 'sha256', fileWhere, fail);
      if (!/^[0-9a-f]{64}$/.test(sha256)) fail(fileWhere, '"sha256" is not 64 lowercase hex digits');
      return { path, url, bytes: bytes as number, sha256 };
    });

    let bundled: BundledFile | undefined;
    if (model.bundled !== undefined) {
      const bundledWhere = `${where} bundled`;
      const record = asRecord(model.bundled) ?? fail(bundledWhere, 'not an object');
      const path = stringField(record, 'path', bundledWhere, fail);
      if (path.startsWith('/') || path.includes('\\') || path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
        fail(bundledWhere, `path "${path}" must be relative, with forward slashes and no "." or ".." parts`);
      }
      const bytes = record.bytes;
      if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) fail(bundledWhere, '"bytes" is not a non-negative integer');
      const sha256 = stringField(record, 'sha256', bundledWhere, fail);
      if (!/^[0-9a-f]{64}$/.test(sha256)) fail(bundledWhere, '"sha256" is not 64 lowercase hex digits');
      bundled = { path, bytes: bytes as number, sha256 };
    }

    return {
      name,
      kind: kind as ModelKind,
      format: format as ModelFormat,
      description: typeof model.description === 'string' ? model.description : '',
      license: stringField(model, 'license', where, fail),
      source,
      files,
      ...(bundled ? { bundled } : {}),
    };
  });
  return { version: 1, models };
}

/** Loads and validates a manifest file (default: the repository's weights/manifest.json). Node only. */
export async function loadWeightsManifest(path: string | URL = DEFAULT_MANIFEST_URL): Promise<WeightsManifest> {
  const { readFile } = await import('node:fs/promises');
  const name = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the weights manifest ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${name} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseWeightsManifest(json, name);
}

/** The model called `name`; an unknown name is an error listing the known ones. */
export function findModel(manifest: WeightsManifest, name: string): ModelEntry {
  const model = manifest.models.find((m) => m.name === name);
  if (model === undefined) {
    throw new Error(`unknown model "${name}"; known models: ${manifest.models.map((m) => m.name).join(', ')}`);
  }
  return model;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function stringField(
  record: Record<string, unknown>,
  key: string,
  where: string,
  fail: (where: string, problem: string) => never,
): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') return fail(where, `"${key}" is not a non-empty string`);
  return value;
}
