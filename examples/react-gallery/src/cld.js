// @cloudinary/url-gen pointed at a self-hosted alphacdn instead of res.cloudinary.com.
import { Cloudinary } from "@cloudinary/url-gen";
import { Transformation } from "@cloudinary/url-gen";
import { auto as autoCrop, fill, fit, minimumPad } from "@cloudinary/url-gen/actions/resize";
import { backgroundRemoval, dropShadow } from "@cloudinary/url-gen/actions/effect";
import { source } from "@cloudinary/url-gen/actions/underlay";
import { image } from "@cloudinary/url-gen/qualifiers/source";
import { format, quality } from "@cloudinary/url-gen/actions/delivery";
import { auto as autoFormat } from "@cloudinary/url-gen/qualifiers/format";
import { auto as autoQuality } from "@cloudinary/url-gen/qualifiers/quality";
import { autoGravity } from "@cloudinary/url-gen/qualifiers/gravity";
import { color } from "@cloudinary/url-gen/qualifiers/background";
import { CLOUD, CROP, SERVER } from "./config.js";

const server = new URL(SERVER);

// http://host:port → `cname` + secure: false; https://host → `secureDistribution`.
// url-gen then writes <server>/<cloud>/image/upload/<transformations>/v1/<public_id>.
export const cld = new Cloudinary({
  cloud: { cloudName: CLOUD },
  url:
    server.protocol === "https:"
      ? { secure: true, secureDistribution: server.host, analytics: false }
      : { secure: false, cname: server.host, analytics: false },
});

export const SIDE = 400;

/** The product photo as uploaded, cropped square (f_auto, q_auto). */
export function original(publicId) {
  const crop =
    CROP === "auto"
      ? autoCrop().width(SIDE).height(SIDE).gravity(autoGravity())
      : fill().width(SIDE).height(SIDE);
  return cld
    .image(publicId)
    .resize(crop)
    .delivery(format(autoFormat()))
    .delivery(quality(autoQuality()));
}

/** The product cut out (e_background_removal), trimmed, with a drop shadow, on a brand
 * backdrop (an underlay: `u_products:backdrop-<swatch>`), square. */
export function cutout(publicId, swatch) {
  return cld
    .image(publicId)
    .effect(backgroundRemoval())
    // url-gen's reshape(trim()) writes `e_trim::`, which alphacdn refuses until the SDK grammar
    // work (issue 14 item 1) lands: the plain component does the same
    .addTransformation("e_trim")
    .resize(fit().width(260).height(260))
    // a short shadow (light from high up) keeps subject + shadow inside the square
    .effect(dropShadow().azimuth(220).elevation(70).spread(40))
    .resize(minimumPad().width(SIDE).height(SIDE).background(color("transparent")))
    .underlay(
      source(
        image(`products/backdrop-${swatch}`).transformation(
          new Transformation().resize(fill().width(SIDE).height(SIDE)),
        ),
      ),
    )
    .delivery(format(autoFormat()))
    .delivery(quality(autoQuality()));
}
