/**
 * Inverted label index for evaluating many selectors over many label sets. Almost every policy
 * selector carries an `In` requirement (matchLabels, or the injected namespace), so candidates
 * come from the smallest `In` posting list and only those get the full match. This keeps
 * 2,000 rules × thousands of identities well under a second.
 */
import type { Labels } from "./labels.js";
import { indexLabels } from "./labels.js";
import type { Selector } from "./selector.js";
import { matchesSelector } from "./selector.js";

export class SelectorIndex<T> {
  private readonly postings = new Map<string, Map<string, number[]>>();
  private readonly labels: Labels[];

  constructor(
    private readonly items: readonly T[],
    labelsOf: (item: T) => Labels,
  ) {
    this.labels = items.map(labelsOf);
    this.labels.forEach((labels, i) => {
      for (const [key, pairs] of indexLabels(labels)) {
        let byValue = this.postings.get(key);
        if (!byValue) this.postings.set(key, (byValue = new Map()));
        for (const [, value] of pairs) {
          const list = byValue.get(value);
          if (!list) byValue.set(value, [i]);
          else if (list[list.length - 1] !== i) list.push(i);
        }
      }
    });
  }

  /** Items matching the selector, in input order. */
  select(selector: Selector): T[] {
    let best: number[][] | null = null;
    let bestSize = Infinity;
    for (const r of selector.requirements) {
      if (r.operator !== "In") continue;
      const byValue = this.postings.get(r.key);
      const lists = r.values.map((v) => byValue?.get(v) ?? []);
      const size = lists.reduce((n, l) => n + l.length, 0);
      if (size < bestSize) {
        best = lists;
        bestSize = size;
      }
    }
    const out: T[] = [];
    if (best === null) {
      this.items.forEach((item, i) => {
        if (matchesSelector(selector, this.labels[i] as Labels)) out.push(item);
      });
      return out;
    }
    const candidates = best.length === 1 ? (best[0] as number[]) : [...new Set(best.flat())].sort((a, b) => a - b);
    for (const i of candidates) {
      if (matchesSelector(selector, this.labels[i] as Labels)) out.push(this.items[i] as T);
    }
    return out;
  }
}
