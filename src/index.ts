/**
 * pastiche's library API, the platform-neutral core that the Node entry (index.node.ts) and the browser
 * entry (index.browser.ts) build on. Import from 'pastiche': it resolves to the entry for your platform.
 */
export { decodeImage, encodePng, fromRgba8, toRgba8, type RgbImage } from './io/image.ts';
export { createPastiche, type ImageDataLike, type Model, type Pastiche, type Platform, type StylizedImage, type StylizeOptions } from './api/create.ts';
