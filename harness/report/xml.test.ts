import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { element, escapeAttribute, escapeText, renderXml } from "./xml.js";

describe("xml writer", () => {
  it("escapes text and attributes and replaces characters XML cannot carry", () => {
    assert.equal(escapeText(`a<b>&"c"`), `a&lt;b&gt;&amp;"c"`);
    assert.equal(escapeAttribute(`x="1"\n\ty`), "x=&quot;1&quot;&#10;&#9;y");
    assert.equal(escapeText("bell\u0007 nul\u0000 ok\u00e9 \uD83D\uDE00 lone\uD800"), "bell\uFFFD nul\uFFFD ok\u00e9 \uD83D\uDE00 lone\uFFFD");
  });

  it("renders nested elements, self-closing empties and inline text", () => {
    const xml = renderXml(element("a", { n: 1, skip: undefined }, [element("b"), element("c", { t: "x&y" }, ["line1\nline2 <"]), undefined, false]));
    assert.equal(xml, '<?xml version="1.0" encoding="UTF-8"?>\n<a n="1">\n  <b/>\n  <c t="x&amp;y">line1\nline2 &lt;</c>\n</a>\n');
  });
});
