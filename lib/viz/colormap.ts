// Viridis (matplotlib's perceptually uniform colormap), as its values at 0, 0.1, ..., 1,
// interpolated linearly in RGB. The same stops serve as an SVG linearGradient, so a color
// bar drawn from them shows exactly the colors of the cells.

/** Viridis sampled at 11 evenly spaced points, dark (0) to bright (1). */
export const VIRIDIS_STOPS: readonly string[] = [
  '#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725',
];

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const RGB = VIRIDIS_STOPS.map(rgb);

/** The viridis color of t in [0, 1] (clamped; NaN gives the darkest color) as #rrggbb. */
export function viridis(t: number): string {
  const u = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
  const pos = u * (RGB.length - 1);
  const i = Math.min(RGB.length - 2, Math.floor(pos));
  const f = pos - i;
  const [a, b] = [RGB[i], RGB[i + 1]];
  const c = a.map((v, j) => Math.round(v + (b[j] - v) * f));
  return '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
}
