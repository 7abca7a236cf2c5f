import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM, requireTool } from './system-tools';

/** Debian's chromium, installed on demand (support/system-tools.ts). */
export function ensureChromium(): void {
  requireTool(CHROMIUM);
}

export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({
    executablePath: CHROMIUM.bin,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Whether a URL stays on this machine (or never leaves the page). */
export function isLocal(url: string): boolean {
  if (url.startsWith('about:') || url.startsWith('data:')) return true;
  try {
    const host = new URL(url).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
  } catch {
    return false;
  }
}

/**
 * Intercepts every request the page makes: loopback ones go through, anything else is aborted
 * and recorded, so a test can assert the list is empty (and nothing left the machine meanwhile).
 */
export async function guardNetwork(page: Page): Promise<string[]> {
  const outside: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  return outside;
}

export interface Box {
  text: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Pairs of boxes whose areas intersect by more than `slack` px each way. */
export function overlaps(boxes: Box[], slack = 0.5): Array<[Box, Box]> {
  const out: Array<[Box, Box]> = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
      const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
      if (w > slack && h > slack) out.push([a, b]);
    }
  }
  return out;
}
