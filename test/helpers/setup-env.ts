// Quiet the Vulkan loader's warning about a missing runtime dir in containers and CI.
process.env.XDG_RUNTIME_DIR ??= '/tmp';
