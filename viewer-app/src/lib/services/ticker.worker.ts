// A steady clock for the screen-share loop. Timers of a hidden page are throttled to once a
// second or less; a dedicated worker's are not, and the end user's page is usually hidden behind
// the very window they are sharing.
let timer: ReturnType<typeof setInterval> | null = null;

self.onmessage = (ev: MessageEvent<{ intervalMs: number } | 'stop'>) => {
  if (timer) clearInterval(timer);
  timer = null;
  if (ev.data === 'stop') return;
  timer = setInterval(() => self.postMessage('tick'), Math.max(20, ev.data.intervalMs));
};
