//! Decoding (with limits that stop decompression bombs), resizing and encoding, with the
//! `image` crate. CPU-bound: callers run it on the blocking pool.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use super::ImgError;

/// How the image meets the asked box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The whole image inside `w`×`h`, aspect kept.
    Contain,
    /// `w`×`h` filled, aspect kept, the overflow cropped.
    Cover,
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Webp,
    Jpeg,
}

impl Format {
    /// Its content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// Its file extension in the cache.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Jpeg => "jpg",
        }
    }
}

/// What to make of a source image.
#[derive(Debug, Clone, Copy)]
pub struct Transform {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub format: Format,
    /// The largest side of any output.
    pub max_dimension: u32,
    /// The largest decoded source, width × height.
    pub max_pixels: u64,
}

/// The raster formats we accept as sources.
fn accepted(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP
    )
}

/// Decodes `bytes` (refusing what is not a JPEG, PNG, GIF or WebP, and anything whose
/// declared size passes `max_pixels` before a pixel is decoded), resizes and encodes it.
pub fn apply(bytes: &[u8], t: &Transform) -> Result<Vec<u8>, ImgError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ImgError::NotAnImage("unreadable image".into()))?;
    let format = reader
        .format()
        .filter(|f| accepted(*f))
        .ok_or_else(|| ImgError::NotAnImage("not a JPEG, PNG, GIF or WebP image".into()))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|_| ImgError::NotAnImage("unreadable image header".into()))?;
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > t.max_pixels {
        return Err(ImgError::TooLarge(format!(
            "the source is {w}×{h}; at most {} pixels are decoded",
            t.max_pixels
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // Four bytes per pixel plus slack for the decoder's own buffers.
    limits.max_alloc = Some(t.max_pixels * 4 + 16 * 1024 * 1024);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| ImgError::NotAnImage(format!("the image does not decode: {e}")))?;
    let resized = resize(image, t);
    encode(&resized, t.format)
}

fn resize(image: DynamicImage, t: &Transform) -> DynamicImage {
    let (sw, sh) = (image.width(), image.height());
    let max = t.max_dimension;
    let filter = FilterType::Triangle;
    match (t.width, t.height, t.fit) {
        (Some(w), Some(h), Fit::Cover) => image.resize_to_fill(w, h, filter),
        (Some(w), Some(h), Fit::Contain) => image.resize(w, h, filter),
        (Some(w), None, _) => image.resize(w, max, filter),
        (None, Some(h), _) => image.resize(max, h, filter),
        (None, None, _) if sw > max || sh > max => image.resize(max, max, filter),
        (None, None, _) => image,
    }
}

fn encode(image: &DynamicImage, format: Format) -> Result<Vec<u8>, ImgError> {
    let mut out = Cursor::new(Vec::new());
    let outcome = match format {
        Format::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82))
        }
        Format::Webp => {
            let rgba = DynamicImage::ImageRgba8(image.to_rgba8());
            rgba.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        }
    };
    outcome.map_err(|e| ImgError::Internal(format!("encoding failed: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30])));
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        out.into_inner()
    }

    fn transform(width: Option<u32>, height: Option<u32>, fit: Fit, format: Format) -> Transform {
        Transform {
            width,
            height,
            fit,
            format,
            max_dimension: 2048,
            max_pixels: 10_000_000,
        }
    }

    fn dims(bytes: &[u8]) -> (u32, u32) {
        image::load_from_memory(bytes)
            .map(|i| (i.width(), i.height()))
            .unwrap_or((0, 0))
    }

    #[test]
    fn contain_keeps_the_aspect_and_cover_fills_the_box() {
        let source = png(400, 200);
        let contain = apply(&source, &transform(Some(100), Some(100), Fit::Contain, Format::Jpeg));
        assert_eq!(contain.as_deref().map(dims).ok(), Some((100, 50)));
        let cover = apply(&source, &transform(Some(100), Some(100), Fit::Cover, Format::Webp));
        assert_eq!(cover.as_deref().map(dims).ok(), Some((100, 100)));
        let width_only = apply(&source, &transform(Some(200), None, Fit::Contain, Format::Jpeg));
        assert_eq!(width_only.as_deref().map(dims).ok(), Some((200, 100)));
    }

    #[test]
    fn a_huge_declared_size_is_refused_before_decoding() {
        let source = png(4000, 3000);
        let mut t = transform(Some(10), None, Fit::Contain, Format::Jpeg);
        t.max_pixels = 1_000_000;
        assert!(matches!(apply(&source, &t), Err(ImgError::TooLarge(_))));
    }

    #[test]
    fn text_and_svg_are_not_images() {
        let t = transform(Some(10), None, Fit::Contain, Format::Jpeg);
        assert!(matches!(apply(b"<html>hi</html>", &t), Err(ImgError::NotAnImage(_))));
        assert!(matches!(
            apply(b"<svg xmlns='http://www.w3.org/2000/svg'/>", &t),
            Err(ImgError::NotAnImage(_))
        ));
    }
}
