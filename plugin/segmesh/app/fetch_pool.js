// The viewer's many small requests (a study may hold thousands of models) kept to a few at a
// time. Chromium fails requests with "Failed to fetch" once a page has about 1,350 outstanding
// (2000 fetches at once: 644 failed), whichever they are: the planes' and the statistics'
// among them. Orthanc's HTTP threads are bounded too ("HttpThreadsCount").

// Tries of a GET (the first and the retries), and the pause before each retry (ms).
const TRIES = 3;
const PAUSE = 250;

// Runs tasks (functions returning promises) at most ``limit`` at a time, in the order given.
export class FetchPool {
  constructor(limit) {
    this.limit = limit;
    this.running = 0;
    this.waiting = [];
  }

  // A promise of ``task()``'s result, once a place is free.
  run(task) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ task, resolve, reject });
      this.next();
    });
  }

  next() {
    while (this.running < this.limit && this.waiting.length) {
      const { task, resolve, reject } = this.waiting.shift();
      this.running += 1;
      Promise.resolve().then(task).then(resolve, reject).finally(() => {
        this.running -= 1;
        this.next();
      });
    }
  }
}

// fetch() of a GET, tried again where that is safe and can help: a GET changes nothing, so a
// request the network dropped ("Failed to fetch") or Orthanc refused for being busy (503) is
// asked again, a little later; any other answer (404, 500, ...) is returned as it is.
export async function getRetrying(url) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url);
      if (response.status !== 503 || attempt >= TRIES) return response;
    } catch (error) {
      if (!(error instanceof TypeError) || attempt >= TRIES) throw error;
    }
    await new Promise((resolve) => { setTimeout(resolve, PAUSE * attempt); });
  }
}

// Resolves after the page has drawn a frame (or a moment, in a hidden tab that draws none):
// work done in batches lets the page paint and handle input between them.
export function nextFrame() {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); setTimeout(resolve); };
    const timer = setTimeout(done, 200);
    requestAnimationFrame(done);
  });
}
