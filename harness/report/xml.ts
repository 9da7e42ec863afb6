// A tiny XML writer for the JUnit report: elements, attributes and text, escaped for XML 1.0.
// Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates) are replaced with
// U+FFFD, because flow records and probe errors may contain anything.

export interface XmlElement {
  name: string;
  attributes: Record<string, string | number | boolean | undefined>;
  children: (XmlElement | string)[];
}

export function element(name: string, attributes: XmlElement["attributes"] = {}, children: (XmlElement | string | undefined | false)[] = []): XmlElement {
  return { name, attributes, children: children.filter((c): c is XmlElement | string => c !== undefined && c !== false) };
}

const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function escapeText(text: string): string {
  return text.replace(INVALID_XML_CHARS, "\uFFFD").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function escapeAttribute(text: string): string {
  // Newlines and tabs in attributes would be normalised to spaces by parsers; keep them as references.
  return escapeText(text).replace(/"/g, "&quot;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;").replace(/\t/g, "&#9;");
}

/** Serialises with an XML declaration; elements that hold only text keep it inline and unindented. */
export function renderXml(root: XmlElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderElement(root, "")}\n`;
}

function renderElement(node: XmlElement, indent: string): string {
  const attrs = Object.entries(node.attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeAttribute(String(v))}"`)
    .join("");
  if (node.children.length === 0) return `${indent}<${node.name}${attrs}/>`;
  if (node.children.every((c) => typeof c === "string")) {
    return `${indent}<${node.name}${attrs}>${escapeText(node.children.join(""))}</${node.name}>`;
  }
  const inner = node.children.map((c) => (typeof c === "string" ? `${indent}  ${escapeText(c)}` : renderElement(c, `${indent}  `))).join("\n");
  return `${indent}<${node.name}${attrs}>\n${inner}\n${indent}</${node.name}>`;
}
