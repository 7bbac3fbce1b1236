// Where the gallery finds alphacdn: the build's ALPHACDN_URL (default http://127.0.0.1:8000),
// or `?server=` / `?cloud=` in the page URL (the browser test uses them).
const query = new URLSearchParams(typeof location !== "undefined" ? location.search : "");

export const SERVER = (query.get("server") || __ALPHACDN_URL__).replace(/\/$/, "");
export const CLOUD = query.get("cloud") || __ALPHACDN_CLOUD__;
/** placeholder mode: blur (default here) | pixelate | vectorize (the SDK's default) |
 * predominant-color */
export const PLACEHOLDER = query.get("placeholder") || "blur";
/** `?crop=auto`: originals cropped with c_auto,g_auto (the SDK's smart crop) */
export const CROP = query.get("crop") || "fill";
/** the unsigned upload preset the upload form uses (scripts/seed.mjs makes it) */
export const UPLOAD_PRESET = query.get("preset") || "storefront";
