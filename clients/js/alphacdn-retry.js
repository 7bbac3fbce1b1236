// alphacdn-retry: show a background-removal image whose matte is still being made.
//
// alphacdn (like Cloudinary) answers the first request for an `e_background_removal` URL with
// 423 Locked and a `Retry-After` header while the matte is computed; an <img> shows that as a
// broken image. This helper retries such an image, waiting what `Retry-After` says, until it
// loads. No dependencies; works with any <img>, and as a plugin of @cloudinary/react's
// <AdvancedImage> / @cloudinary/html's HtmlImageLayer.
//
//   import { retryOn423 } from "alphacdn-retry";
//   <AdvancedImage cldImg={img} plugins={[retryOn423(), lazyload(), placeholder({ mode: "blur" })]} />
//
//   import { watchImage } from "alphacdn-retry";
//   const stop = watchImage(document.querySelector("img.cutout"));
//
// Put `retryOn423()` FIRST among the plugins: @cloudinary/html's placeholder plugin replaces a
// failed image with a transparent pixel, and the helper must see the failed URL before that.
//
// Reading the status of a failed <img> needs one request (`HEAD`, or `GET` if HEAD is refused):
// cross-origin, alphacdn must list the page's origin in ALPHACDN_CORS_ORIGINS (it exposes
// Retry-After). A server run with the storefront setting ALPHACDN_MATTE_PREVIEW answers a
// preview instead of a 423, and this helper then has nothing to do.

const DEFAULTS = {
  // give up after this many retries of one image, or this many seconds in all (a queue of
  // mattes on a busy server can take minutes)
  maxRetries: 60,
  maxSeconds: 300,
  // bounds of the wait between tries, whatever Retry-After says (seconds)
  minDelay: 0.5,
  maxDelay: 10,
  // the query parameter that makes a retry a new request (delivery ignores query strings)
  param: "_retry",
  // called on every retry: ({ url, attempt, delay }) => void
  onRetry: null,
  // called when the helper gives up: ({ url, status, reason }) => void
  onGiveUp: null,
};

/** The seconds a response's `Retry-After` asks for (a number or an HTTP date), else null. */
export function retryAfterSeconds(header) {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/** `url` with the retry counter set (any earlier one replaced). */
export function withAttempt(url, attempt, param = DEFAULTS.param) {
  const u = new URL(url, typeof location !== "undefined" ? location.href : undefined);
  u.searchParams.set(param, String(attempt));
  return u.toString();
}

/** The status and `Retry-After` (seconds) of `url`, as one bounded request sees them. */
export async function probe(url, { signal } = {}) {
  let resp = await fetch(url, { method: "HEAD", cache: "no-store", signal });
  if (resp.status === 405) resp = await fetch(url, { cache: "no-store", signal });
  return { status: resp.status, retryAfter: retryAfterSeconds(resp.headers.get("Retry-After")) };
}

/** Wait until `url` stops answering 423 (bounded), for code that fetches images itself:
 * resolves with the final Response. */
export async function fetchWhenReady(url, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    const resp = await fetch(attempt ? withAttempt(url, attempt, o.param) : url, { signal: o.signal });
    const spent = (Date.now() - started) / 1000;
    if (resp.status !== 423 || attempt >= o.maxRetries || spent >= o.maxSeconds) return resp;
    const delay = clamp(retryAfterSeconds(resp.headers.get("Retry-After")) ?? 1, o.minDelay, o.maxDelay);
    o.onRetry?.({ url, attempt: attempt + 1, delay });
    await sleep(delay, o.signal);
  }
}

/** Retry `img` whenever it fails with a 423; returns a function that stops watching. */
export function watchImage(img, options = {}) {
  const o = { ...DEFAULTS, ...options };
  let lastUrl = realUrl(img.getAttribute("src"));
  let attempts = 0;
  let started = null;
  let timer = null;
  let stopped = false;
  const controller = typeof AbortController !== "undefined" ? new AbortController() : null;

  // remember the last real (non data:) URL the image was given
  const observer =
    typeof MutationObserver !== "undefined"
      ? new MutationObserver(() => {
          const src = realUrl(img.getAttribute("src"));
          if (src && stripAttempt(src, o.param) !== stripAttempt(lastUrl, o.param)) {
            lastUrl = src; // a new image (responsive width, another product): a fresh budget
            attempts = 0;
            started = null;
          }
        })
      : null;
  observer?.observe(img, { attributes: true, attributeFilter: ["src"] });

  const onError = async () => {
    const failed = realUrl(img.currentSrc || img.src) || lastUrl;
    if (!failed || stopped) return;
    lastUrl = failed;
    started ??= Date.now();
    let status;
    let retryAfter;
    try {
      ({ status, retryAfter } = await probe(failed, { signal: controller?.signal }));
    } catch (err) {
      if (!stopped) o.onGiveUp?.({ url: failed, status: 0, reason: String(err) });
      return;
    }
    if (stopped) return;
    if (stripAttempt(lastUrl, o.param) !== stripAttempt(failed, o.param)) return; // moved on
    if (status !== 423 && status < 400) {
      // ready meanwhile (or a preview): load it again
      img.src = withAttempt(failed, ++attempts, o.param);
      return;
    }
    if (status !== 423) {
      o.onGiveUp?.({ url: failed, status, reason: `answered ${status}` });
      return;
    }
    const spent = (Date.now() - started) / 1000;
    if (attempts >= o.maxRetries || spent >= o.maxSeconds) {
      o.onGiveUp?.({ url: failed, status, reason: "still 423 after the retry budget" });
      return;
    }
    const delay = clamp(retryAfter ?? 1, o.minDelay, o.maxDelay);
    attempts += 1;
    o.onRetry?.({ url: failed, attempt: attempts, delay });
    img.dataset.alphacdnRetry = String(attempts);
    timer = setTimeout(() => {
      // the image was given another URL meanwhile (the placeholder plugin moving on to the
      // final image, a new responsive width): that one is what to show, not this retry
      if (stopped || stripAttempt(lastUrl, o.param) !== stripAttempt(failed, o.param)) return;
      img.src = withAttempt(failed, attempts, o.param);
    }, delay * 1000);
  };
  img.addEventListener("error", onError);
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
    observer?.disconnect();
    img.removeEventListener("error", onError);
  };
}

/** A plugin for @cloudinary/react's <AdvancedImage plugins={[…]}> (and @cloudinary/html). */
export function retryOn423(options = {}) {
  return function retryOn423Plugin(element, _cldImage, htmlPluginState) {
    if (typeof window === "undefined" || !element || element.tagName !== "IMG") return true;
    const stop = watchImage(element, options);
    htmlPluginState?.cleanupCallbacks?.push(stop);
    return true;
  };
}

function realUrl(src) {
  return src && !src.startsWith("data:") ? src : null;
}

function stripAttempt(url, param) {
  if (!url) return url;
  try {
    const u = new URL(url, typeof location !== "undefined" ? location.href : undefined);
    u.searchParams.delete(param);
    return u.toString();
  } catch {
    return url;
  }
}

function clamp(x, lo, hi) {
  return Math.min(hi, Math.max(lo, x));
}

function sleep(seconds, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}
