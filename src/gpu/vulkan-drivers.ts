/**
 * Whether the Vulkan loader can find any driver manifest (ICD .json), checked before Dawn is asked for
 * an adapter: when there is none, Dawn's search prints loader warnings and a source path to the native
 * stderr, which no JavaScript can filter, before it returns null. Linux only (Dawn uses Metal and
 * D3D12 elsewhere); an answer of true only means "let Dawn try".
 */
export async function vulkanDriverManifestsExist(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  // Kept out of browser bundles: the module name is not a static import.
  const fsName = 'node:fs';
  const { existsSync, readdirSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  // An explicit list replaces the search (VK_DRIVER_FILES, or the older VK_ICD_FILENAMES).
  const explicit = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(':').some((file) => file !== '' && existsSync(file));
  const home = env.HOME ?? '';
  const dirs = [
    ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'),
    '/etc',
    env.XDG_DATA_HOME || `${home}/.local/share`,
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':'),
  ];
  return dirs.some((dir) => {
    try {
      return readdirSync(`${dir}/vulkan/icd.d`).some((name) => name.endsWith('.json'));
    } catch {
      return false;
    }
  });
}
