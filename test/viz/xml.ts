// A strict parser for the XML subset an SVG writer produces (declaration, elements with
// quoted attributes, escaped text): any unbalanced or malformed markup throws.

export interface Node {
  name: string;
  attrs: Record<string, string>;
  children: Node[];
  text: string;
}

const TAG = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
const TEXT = /^(?:[^<&]|&(?:amp|lt|gt|quot|apos|#\d+);)*$/;

/** Parses the XML subset an SVG writer produces, failing on any unbalanced or malformed markup. */
export function parseXml(xml: string): Node {
  let i = 0;
  const decl = /^<\?xml [^?]*\?>\s*/.exec(xml);
  if (decl) i = decl[0].length;
  const root: Node = { name: '#document', attrs: {}, children: [], text: '' };
  const stack = [root];
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const chunk = xml.slice(i, lt < 0 ? xml.length : lt);
    if (!TEXT.test(chunk)) throw new Error(`bad text at ${i}: ${JSON.stringify(chunk.slice(0, 40))}`);
    stack[stack.length - 1].text += chunk;
    if (lt < 0) break;
    TAG.lastIndex = lt;
    const m = TAG.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 40)}`);
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== name || attrText || selfClose) throw new Error(`</${name}> closes <${open?.name}> at ${lt}`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} at ${lt}`);
        if (!TEXT.test(a[2])) throw new Error(`bad attribute value ${a[2]} at ${lt}`);
        attrs[a[1]] = a[2];
      }
      const node: Node = { name, attrs, children: [], text: '' };
      stack[stack.length - 1].children.push(node);
      if (!selfClose) stack.push(node);
    }
    i = TAG.lastIndex;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1 || root.text.trim()) throw new Error('expected exactly one root element');
  return root.children[0];
}

/** Every node under n (n included) that satisfies pred, in document order. */
export function all(n: Node, pred: (n: Node) => boolean, out: Node[] = []): Node[] {
  if (pred(n)) out.push(n);
  for (const c of n.children) all(c, pred, out);
  return out;
}

