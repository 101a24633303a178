// Orders in-memory changes (typing, presence). It starts at the clock so that tokens handed out before a
// restart still compare lower than anything after it.
export class EphemeralCounter {
  private last = Date.now();

  next(): number {
    this.last += 1;
    return this.last;
  }

  current(): number {
    return this.last;
  }
}
