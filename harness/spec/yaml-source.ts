// Multi-document YAML with source positions. Validation works on plain JS values; this module
// maps a field path (as zod reports it) back to the line and column of that field in the file,
// using the `yaml` package's document AST.
import { LineCounter, parseAllDocuments, isAlias, isMap, isPair, isScalar, isSeq } from "yaml";
import type { Document, Node as YamlNode, Pair } from "yaml";
import type { SpecError } from "./errors.js";

export interface Position {
  line: number;
  column: number;
}

export interface YamlDocument {
  /** 0-based index of the document in its file. */
  index: number;
  /** The document as plain JS (maps → objects, sequences → arrays). */
  value: unknown;
  /** Where the document's content starts. */
  position: Position;
  /** Position of the value at `path`, or of the deepest part of it that exists. */
  locate(path: readonly PropertyKey[]): Position;
  /** Position of the key `key` in the map at `path` (for "unknown field" errors). */
  locateKey(path: readonly PropertyKey[], key: string): Position;
}

export interface ParsedYaml {
  /** Non-empty documents without syntax errors. */
  documents: YamlDocument[];
  errors: SpecError[];
}

/** Parses every document of a YAML stream; documents with syntax errors are reported, not returned. */
export function parseYamlDocuments(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // Merge keys (`<<: *base`) are YAML 1.1, but spec authors use them to share fixtures between scenarios.
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const docs: Document.Parsed[] = Array.isArray(parsed) ? parsed : [];
  const toPosition = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const documents: YamlDocument[] = [];
  const errors: SpecError[] = [];
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        errors.push({ kind: "syntax", file, ...toPosition(err.pos[0]), message: firstLine(err.message) });
      }
      return;
    }
    if (doc.contents === null) return; // empty or comment-only document
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      // e.g. an alias bomb or an unresolved alias: a syntax-level problem of this document
      errors.push({ kind: "syntax", file, ...toPosition(doc.contents.range[0]), message: (err as Error).message });
      return;
    }
    documents.push({
      index,
      value,
      position: toPosition(doc.contents.range[0]),
      locate: (path) => toPosition(locateOffset(doc, path)),
      locateKey: (path, key) => {
        const node = walk(doc, path).node;
        if (node && isMap(node)) {
          const pair = node.items.find((p) => keyText(p) === key);
          const keyNode = pair?.key;
          if (keyNode && typeof keyNode === "object" && "range" in keyNode && Array.isArray(keyNode.range)) {
            return toPosition((keyNode.range as number[])[0]!);
          }
        }
        return toPosition(locateOffset(doc, path));
      },
    });
  });
  return { documents, errors };
}

interface WalkResult {
  /** The node at the full path, or undefined when the path leaves the document. */
  node: YamlNode | undefined;
  /** The deepest node reached, and the pair whose value it is (if any). */
  deepest: YamlNode;
  deepestPair: Pair | undefined;
}

function walk(doc: Document.Parsed, path: readonly PropertyKey[]): WalkResult {
  let node = resolve(doc, doc.contents as YamlNode);
  let pair: Pair | undefined;
  for (const segment of path) {
    let next: YamlNode | undefined;
    let nextPair: Pair | undefined;
    if (isMap(node)) {
      nextPair = node.items.find((p) => keyText(p) === String(segment));
      next = nextPair?.value as YamlNode | undefined;
    } else if (isSeq(node) && typeof segment === "number") {
      next = node.items[segment] as YamlNode | undefined;
    }
    if (next === undefined || next === null) {
      // A key present with an empty value (`matrix:`) still has a position: the key's.
      return { node: undefined, deepest: node, deepestPair: nextPair ?? pair };
    }
    node = resolve(doc, next);
    pair = nextPair;
  }
  return { node, deepest: node, deepestPair: pair };
}

function locateOffset(doc: Document.Parsed, path: readonly PropertyKey[]): number {
  const { deepest, deepestPair } = walk(doc, path);
  // A block collection starts on the line after its key; the key's line is where a reader looks.
  const keyNode = deepestPair?.key as YamlNode | undefined;
  const isEmptyValue = isScalar(deepest) && deepest.value === null;
  if (keyNode?.range && (!isScalar(deepest) || isEmptyValue || deepestPair?.value !== deepest)) return keyNode.range[0];
  return deepest.range?.[0] ?? 0;
}

function resolve(doc: Document.Parsed, node: YamlNode): YamlNode {
  let current = node;
  for (let hops = 0; isAlias(current) && hops < 100; hops++) {
    const target = current.resolve(doc);
    if (!target) break;
    current = target as YamlNode;
  }
  return current;
}

function keyText(pair: unknown): string | undefined {
  if (!isPair(pair)) return undefined;
  const key = pair.key;
  if (isScalar(key)) return String(key.value);
  return typeof key === "string" || typeof key === "number" ? String(key) : undefined;
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}
