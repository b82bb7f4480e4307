// A minimal SVG writer: elements as strings with escaped attributes and text.

export type Attrs = Record<string, string | number | undefined>;

/** Escapes text and attribute values for XML. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number with at most 2 decimals (coordinates). */
export function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === 'number' ? num(v) : String(v))}"`)
    .join('');
}

/** <name attrs>children</name>, or <name attrs/> without children. Children are markup. */
export function el(name: string, a: Attrs = {}, ...children: string[]): string {
  return children.length ? `<${name}${attrs(a)}>${children.join('')}</${name}>` : `<${name}${attrs(a)}/>`;
}

/** A text element; the content is escaped. */
export function text(content: string, a: Attrs = {}): string {
  return el('text', a, escapeXml(content));
}

/** A standalone SVG document of the given size. */
export function svgDocument(width: number, height: number, body: string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="Helvetica, Arial, sans-serif">\n` +
    body.join('\n') +
    '\n</svg>\n'
  );
}
