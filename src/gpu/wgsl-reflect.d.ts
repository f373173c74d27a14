// wgsl_reflect's package entry for Node is CommonJS without named exports; import its ES module
// build by path and give it the package's own types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
