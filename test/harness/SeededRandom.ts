// A small deterministic generator (mulberry32): property and fuzz runs draw the same inputs every time,
// so a failure names a seed that reproduces it.
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  string(alphabet: string, maxLength: number): string {
    const chars = Array.from(alphabet);
    let out = '';
    for (let n = this.int(maxLength + 1); n > 0; n--) out += this.pick(chars);
    return out;
  }
}
