// The image files of a prediction from what a user names: files as they are, folders walked
// for image files (os.walk order: each folder's files sorted, then its subfolders sorted).
import * as fs from 'node:fs';
import { walkImages } from '../data/images/folder';
import { fail } from '../errors';

/** The files of `paths`, folders expanded to their image files; a missing path is an error naming it. */
export function imageFiles(paths: readonly string[], op = 'predict'): string[] {
  return paths.flatMap((p) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return fail(op, p, 'an image file or a folder of them', 'a path that does not exist');
    return st.isDirectory() ? walkImages(op, p) : [p];
  });
}
