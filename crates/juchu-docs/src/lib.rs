//! 帳票 as PDF: 納品書, 請求書 and 領収書 for many orders in one document,
//! Japanese text set in an embedded font (a subset, searchable), through
//! typst. The fonts are given as bytes by the caller.
//!
//! Floors: one module on the domain crate alone (the data that fills the
//! template is `juchu_domain::document`); the store calls it, never the other way.

use juchu_domain::document::{DocumentData, Issuer};
use serde::Serialize;
use typst::foundations::{Dict, IntoValue, Str};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("invoice.typ");

/// Where Japanese fonts are usually found (Debian `fonts-noto-cjk`, then
/// `fonts-ipaexfont`); `JUCHU_PDF_FONT` names another file.
pub const FONT_CANDIDATES: &[(&str, &str)] = &[
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "Noto Sans CJK JP",
    ),
    (
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
        "IPAexGothic",
    ),
    (
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
        "IPAexGothic",
    ),
];

/// A font to set documents in: its bytes and the family name to ask for.
#[derive(Clone)]
pub struct DocumentFont {
    pub bytes: Vec<u8>,
    pub family: String,
}

impl DocumentFont {
    /// `JUCHU_PDF_FONT` (a .ttf/.otf/.ttc file; `JUCHU_PDF_FONT_FAMILY` its
    /// family), else the first of [`FONT_CANDIDATES`] present.
    pub fn find() -> Result<DocumentFont, String> {
        if let Ok(path) = std::env::var("JUCHU_PDF_FONT")
            && !path.trim().is_empty()
        {
            let bytes = std::fs::read(path.trim())
                .map_err(|e| format!("JUCHU_PDF_FONT {path}: cannot read the font: {e}"))?;
            let family = std::env::var("JUCHU_PDF_FONT_FAMILY")
                .unwrap_or_else(|_| "Noto Sans CJK JP".into());
            return Ok(DocumentFont { bytes, family });
        }
        for (path, family) in FONT_CANDIDATES {
            if let Ok(bytes) = std::fs::read(path) {
                return Ok(DocumentFont {
                    bytes,
                    family: family.to_string(),
                });
            }
        }
        Err("帳票に使う日本語フォントがありません。fonts-noto-cjk を入れるか、JUCHU_PDF_FONT でフォントファイルを指定してください".into())
    }
}

/// Checks a logo the way rendering will read it: the whole image decodes as a
/// PNG or JPEG (not only its first bytes), so a corrupt file is refused on
/// upload instead of failing every later 帳票 job. Returns its MIME type.
pub fn check_logo(bytes: &[u8]) -> Result<&'static str, String> {
    let (format, mime) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        (image::ImageFormat::Png, "image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        (image::ImageFormat::Jpeg, "image/jpeg")
    } else {
        return Err("ロゴは PNG か JPEG の画像にしてください".into());
    };
    let img = image::load_from_memory_with_format(bytes, format).map_err(|e| {
        format!("ロゴの画像を読めません（壊れているか、対応していない形式です）: {e}")
    })?;
    if img.width() == 0 || img.height() == 0 || img.width() > 4000 || img.height() > 4000 {
        return Err(format!(
            "ロゴの大きさ {}×{} は使えません（4000×4000ピクセルまで）",
            img.width(),
            img.height()
        ));
    }
    Ok(mime)
}

#[derive(Serialize)]
struct Input<'a> {
    font: &'a str,
    /// The logo's file name in the engine, or "" for none.
    logo: &'a str,
    issuer: &'a Issuer,
    docs: &'a [DocumentData],
}

/// Compiles a document set: the engine parses the fonts once and is reused.
pub struct Renderer {
    engine: TypstEngine<TypstTemplateMainFile>,
    family: String,
    logo: &'static str,
}

impl Renderer {
    pub fn new(font: &DocumentFont) -> Renderer {
        Renderer::with_logo(font, None)
    }

    /// With the shop's logo (PNG or JPEG bytes) at the top of every document.
    pub fn with_logo(font: &DocumentFont, logo: Option<&[u8]>) -> Renderer {
        let builder = TypstEngine::builder()
            .main_file(TEMPLATE)
            .fonts([font.bytes.as_slice()]);
        let (engine, logo) = match logo {
            Some(bytes) => {
                let name = if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
                    "logo.jpg"
                } else {
                    "logo.png"
                };
                (
                    builder
                        .with_static_file_resolver([(name, bytes.to_vec())])
                        .build(),
                    name,
                )
            }
            None => (builder.build(), ""),
        };
        Renderer {
            engine,
            family: font.family.clone(),
            logo,
        }
    }

    /// One PDF with every document in order (each starts on a new page).
    pub fn render(&self, issuer: &Issuer, docs: &[DocumentData]) -> Result<Vec<u8>, String> {
        let json = serde_json::to_string(&Input {
            font: &self.family,
            logo: self.logo,
            issuer,
            docs,
        })
        .map_err(|e| e.to_string())?;
        let mut inputs = Dict::new();
        inputs.insert("data".into(), Str::from(json).into_value());
        let doc: PagedDocument = self
            .engine
            .compile_with_input(inputs)
            .output
            .map_err(|e| format!("帳票を組版できません: {e:?}"))?;
        typst_pdf::pdf(&doc, &Default::default()).map_err(|e| format!("PDFを作れません: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juchu_domain::document::{DocumentData, DocumentLine};

    #[test]
    fn renders_japanese_documents_into_one_pdf() {
        let font =
            DocumentFont::find().expect("a Japanese font (scripts/test installs fonts-noto-cjk)");
        let doc = DocumentData {
            title: "納品書".into(),
            order_number: "1001".into(),
            issue_date: "2026-12-01".into(),
            ordered_on: "2026-11-30".into(),
            customer_name: "山田 花子".into(),
            postal_code: "150-0001".into(),
            address_lines: vec![
                "東京都渋谷区神宮前1-2-3".into(),
                "神宮前ビル5F".into(),
                "株式会社やまだ".into(),
            ],
            total_label: "合計金額".into(),
            payment_notes: vec![],
            payment_method: "代金引換".into(),
            show_code: true,
            show_prices: true,
            show_logo: true,
            delivery: vec![],
            proviso: String::new(),
            message: String::new(),
            lines: vec![DocumentLine {
                code: "TEA-01".into(),
                name: "有機緑茶".into(),
                quantity: 2,
                unit_price: "¥1,080".into(),
                amount: "¥2,160".into(),
                reduced: true,
            }],
            adjustments: vec![("小計".into(), "¥2,160".into())],
            total: "¥2,160".into(),
            taxes: vec![("8%対象".into(), "¥2,160".into(), "¥160".into())],
            has_reduced: true,
            receipt: false,
        };
        // A gift's delivery note: no code, no prices, the delivery and a message.
        let gift = DocumentData {
            show_code: false,
            show_prices: false,
            order_number: String::new(),
            delivery: vec![("配送業者".into(), "ヤマト運輸".into())],
            message: "ご注文ありがとうございました。".into(),
            ..doc.clone()
        };
        let receipt = DocumentData {
            receipt: true,
            proviso: "お品代として".into(),
            ..doc.clone()
        };
        let pdf = Renderer::new(&font)
            .render(&Issuer::default(), &[doc, gift, receipt])
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.len() < 500_000,
            "a subset of the font: {} bytes",
            pdf.len()
        );
    }

    #[test]
    fn logos_are_decoded_not_sniffed() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(4, 3, image::Rgb([30, 60, 90]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(check_logo(&png), Ok("image/png"));
        // The right signature, then garbage: refused, in Japanese.
        let mut corrupt = png[..16].to_vec();
        corrupt.extend_from_slice(&[0u8; 40]);
        assert!(check_logo(&corrupt).unwrap_err().contains("読めません"));
        assert!(check_logo(b"GIF89a").unwrap_err().contains("PNG か JPEG"));
        assert!(check_logo(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]).is_err());
    }
}
