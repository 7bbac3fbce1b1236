import { useMemo, useState } from "react";
import { AdvancedImage, lazyload, placeholder, responsive } from "@cloudinary/react";
import { retryOn423 } from "../../../clients/js/alphacdn-retry.js";
import { CLOUD, PLACEHOLDER, SERVER, UPLOAD_PRESET } from "./config.js";
import { cutout, original } from "./cld.js";

const CATALOG = [
  { id: "products/mug", name: "Red mug", price: "€18" },
  { id: "products/bottle", name: "Green bottle", price: "€24" },
  { id: "products/vase", name: "Blue vase", price: "€42" },
  { id: "products/lamp", name: "Brass lamp", price: "€89" },
  { id: "products/ball", name: "Orange ball", price: "€12" },
  { id: "products/giftbox", name: "Gift box", price: "€9" },
];
const SWATCHES = ["cream", "mint", "ink"];

// retryOn423 first: it must see a failed URL before the placeholder plugin swaps it out
const plugins = [
  retryOn423(),
  lazyload({ rootMargin: "200px" }),
  responsive({ steps: [200, 300, 400, 600, 800] }),
  placeholder({ mode: PLACEHOLDER }),
];

function ProductCard({ product, swatch, showOriginal }) {
  const [hover, setHover] = useState(false);
  const cut = useMemo(() => cutout(product.id, swatch), [product.id, swatch]);
  const photo = useMemo(() => original(product.id), [product.id]);
  return (
    <figure
      className={`card${showOriginal || hover ? " show-original" : ""}`}
      data-product={product.id}
      onMouseEnter={() => setHover(true)}
      onMouseLeave={() => setHover(false)}
    >
      <div className="frame">
        <AdvancedImage
          className="original"
          cldImg={photo}
          plugins={plugins}
          alt={`${product.name}, original photo`}
          width="400"
          height="400"
        />
        <AdvancedImage
          className="cutout"
          cldImg={cut}
          plugins={plugins}
          alt={product.name}
          width="400"
          height="400"
        />
      </div>
      <figcaption>
        <b>
          {product.name}
          {product.uploaded && <em className="badge">new</em>}
        </b>
        <span>{product.price}</span>
      </figcaption>
    </figure>
  );
}

function Upload({ onUploaded }) {
  const [status, setStatus] = useState({ text: "", error: false });
  async function submit(event) {
    event.preventDefault();
    const file = event.target.elements.file.files[0];
    if (!file) return;
    setStatus({ text: `Uploading ${file.name}…`, error: false });
    // an unsigned upload: no api_secret in the browser, the preset says what is allowed
    const form = new FormData();
    form.append("file", file);
    form.append("upload_preset", UPLOAD_PRESET);
    try {
      const resp = await fetch(`${SERVER}/v1_1/${CLOUD}/image/upload`, { method: "POST", body: form });
      const json = await resp.json();
      if (!resp.ok) throw new Error(json.error?.message || resp.statusText);
      onUploaded({ id: json.public_id, name: file.name.replace(/\.\w+$/, ""), price: "new", uploaded: true });
      setStatus({ text: `Uploaded as ${json.public_id}`, error: false });
      event.target.reset();
    } catch (err) {
      setStatus({ text: `Upload failed: ${err.message}`, error: true });
    }
  }
  return (
    <section className="upload">
      <form onSubmit={submit} data-testid="upload-form">
        <b>Add a product</b>
        <input type="file" name="file" accept="image/jpeg,image/png,image/webp" />
        <button type="submit">Upload</button>
        <span className={`status${status.error ? " error" : ""}`} role="status">
          {status.text}
        </span>
      </form>
    </section>
  );
}

export function App() {
  const [swatch, setSwatch] = useState("cream");
  const [showOriginal, setShowOriginal] = useState(false);
  const [products, setProducts] = useState(CATALOG);
  return (
    <>
      <header>
        <h1>
          Studio Shop<small>served by alphacdn</small>
        </h1>
        <div className="controls">
          <div className="swatches" role="group" aria-label="Backdrop">
            {SWATCHES.map((s) => (
              <button
                key={s}
                type="button"
                className={`swatch ${s}`}
                aria-pressed={s === swatch}
                aria-label={`${s} backdrop`}
                onClick={() => setSwatch(s)}
              />
            ))}
          </div>
          <label>
            <input
              type="checkbox"
              name="originals"
              checked={showOriginal}
              onChange={(e) => setShowOriginal(e.target.checked)}
            />{" "}
            Show originals
          </label>
        </div>
      </header>
      <main>
        <div className="grid">
          {products.map((p) => (
            <ProductCard key={p.id} product={p} swatch={swatch} showOriginal={showOriginal} />
          ))}
        </div>
      </main>
      <Upload onUploaded={(p) => setProducts((all) => [...all, p])} />
      <footer>
        Images: {SERVER}/{CLOUD} · placeholder: {PLACEHOLDER} · hover a product for its original
      </footer>
    </>
  );
}
