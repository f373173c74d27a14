// Quiet the Vulkan loader's warning about a missing runtime dir in containers and CI.
process.env.XDG_RUNTIME_DIR ??= '/tmp';
// Tests run on the kernels' built-in rules, not on choices a `pastiche tune` left on this machine.
process.env.PASTICHE_TUNE_CACHE ??= 'off';
