// File input and output shared by the readers, the writers and the trainer. The formats
// themselves (safetensors.ts, pth.ts, half.ts) are exported from the package index.
export { writeFileAtomic, appendFileChecked, removeStaleTemps, ioCause, type StaleTempOptions } from './atomic';
export { lockDirectory, LOCK_NAME, type DirLock, type LockOptions } from './lock';
export { readFileBounded, MAX_BUFFER_BYTES } from './read';
