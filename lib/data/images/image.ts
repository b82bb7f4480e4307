// The image type every transform works on, and the few Python number semantics the transforms
// reproduce (torchvision and PIL compute their parameters in Python).

/** An 8-bit image, rows of pixels with their channels interleaved: data is (height, width, channels). */
export interface Image8 {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** A decoded image: grey (1 channel) or RGB (3 channels). */
export interface DecodedImage extends Image8 {
  channels: 1 | 3;
}

/** A blank image of the given size. */
export function newImage(width: number, height: number, channels: number): Image8 {
  return { data: new Uint8Array(width * height * channels), width, height, channels };
}

/** Python's round() to an integer: halves go to the even neighbour. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's round(x, 15), as PIL's rotate rounds its matrix. */
export function round15(x: number): number {
  return Number(x.toFixed(15));
}
