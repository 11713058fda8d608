/**
 * Connected components on the coarse motion grid (8-connectivity), as boxes in grid cells.
 * Pure; an iterative flood fill so a full-frame blob cannot overflow the stack.
 */

/** A blob of active cells: inclusive cell bounds, size and the mean activity over its cells. */
export interface Component { cx1: number; cy1: number; cx2: number; cy2: number; cells: number; meanActivity: number }

/** Scratch arrays, reused across calls (it runs once per frame and is synchronous). */
let seen = new Uint8Array(0);
let stack = new Int32Array(0);

export function connectedComponents(mask: ArrayLike<number>, activity: ArrayLike<number>, cols: number, rows: number, minCells = 1): Component[] {
  if (seen.length < cols * rows) {
    seen = new Uint8Array(cols * rows);
    stack = new Int32Array(cols * rows);
  } else {
    seen.fill(0, 0, cols * rows);
  }
  const out: Component[] = [];
  for (let start = 0; start < cols * rows; start++) {
    if (seen[start] || mask[start]! < 0.5) continue;
    let sp = 0;
    stack[sp++] = start;
    seen[start] = 1;
    let cx1 = cols, cy1 = rows, cx2 = -1, cy2 = -1, cells = 0, sum = 0;
    while (sp > 0) {
      const i = stack[--sp]!;
      const x = i % cols;
      const y = (i - x) / cols;
      cells++;
      sum += activity[i]!;
      if (x < cx1) cx1 = x;
      if (x > cx2) cx2 = x;
      if (y < cy1) cy1 = y;
      if (y > cy2) cy2 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= rows) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= cols) continue;
          const j = ny * cols + nx;
          if (!seen[j] && mask[j]! >= 0.5) {
            seen[j] = 1;
            stack[sp++] = j;
          }
        }
      }
    }
    if (cells >= minCells) out.push({ cx1, cy1, cx2, cy2, cells, meanActivity: sum / cells });
  }
  return out;
}
