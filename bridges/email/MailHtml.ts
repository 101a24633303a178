// Mail HTML into Matrix's formatted_body: sanitize-html with the tags and attributes the Matrix spec
// allows, scripts, styles and event handlers gone, remote images blocked (shown as a link: a tracking
// pixel never loads), `cid:` inline images replaced by their uploaded mxc:// URIs. The quoted part of a
// reply (Gmail, Outlook, Thunderbird, Apple Mail markup) and signatures can be cut off.
import sanitizeHtml, { type Attributes, type Tag } from 'sanitize-html';

const MATRIX_TAGS = [
  'font', 'del', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'p', 'a', 'ul', 'ol', 'sup', 'sub', 'li', 'b', 'i', 'u',
  'strong', 'em', 'strike', 's', 'code', 'hr', 'br', 'div', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'caption', 'pre',
  'span', 'img', 'details', 'summary',
];

const QUOTE_CLASSES = /\b(gmail_quote|gmail_extra|gmail_signature|moz-cite-prefix|moz-signature|yahoo_quoted|protonmail_quote|OutlookMessageHeader)\b/;
const QUOTE_IDS = /^(divRplyFwdMsg|appendonsend|Signature|x_divRplyFwdMsg)$/;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface HtmlOptions {
  /** Uploaded inline images by Content-ID. */
  inlineImages: ReadonlyMap<string, string>;
  /** Drop quoted replies and signatures. */
  stripQuotes: boolean;
}

export function sanitizeMailHtml(html: string, options: HtmlOptions): string {
  let cutRest = false;
  return sanitizeHtml(html, {
    allowedTags: MATRIX_TAGS,
    allowedAttributes: {
      a: ['href', 'title'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      font: ['color', 'data-mx-bg-color', 'data-mx-color'],
      span: ['data-mx-bg-color', 'data-mx-color'],
      code: ['class'],
      ol: ['start'],
      td: ['colspan', 'rowspan'],
      th: ['colspan', 'rowspan'],
    },
    allowedSchemes: ['http', 'https', 'ftp', 'mailto', 'magnet'],
    allowedSchemesByTag: { img: ['mxc'] },
    allowedClasses: { code: [/^language-[\w-]+$/] },
    nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'head', 'xml'],
    transformTags: {
      img: (_tag: string, attribs: Attributes): Tag => {
        const src = attribs.src ?? '';
        const cid = /^cid:(.+)$/i.exec(src)?.[1];
        const mxc = cid !== undefined ? options.inlineImages.get(cid.replace(/^<|>$/g, '')) : undefined;
        if (mxc !== undefined) return { tagName: 'img', attribs: { ...attribs, src: mxc } };
        // A remote image is not loaded (it would tell the sender when and where the mail was read).
        const label = attribs.alt ? `[image: ${attribs.alt}]` : '[image]';
        return /^https?:/i.test(src) ? { tagName: 'a', attribs: { href: src }, text: label } : { tagName: 'span', attribs: {}, text: label };
      },
    },
    exclusiveFilter: (frame) => {
      if (!options.stripQuotes) return false;
      // Outlook puts the quoted original after a marker div without wrapping it: drop everything after it.
      if (cutRest) return true;
      const id = frame.attribs.id ?? '';
      if (QUOTE_IDS.test(id)) {
        cutRest = id !== 'Signature';
        return true;
      }
      return (frame.tag === 'blockquote' && frame.attribs.type === 'cite') || QUOTE_CLASSES.test(frame.attribs.class ?? '');
    },
  }).trim();
}

/** Plain text as formatted_body: escaped, line breaks kept. */
export function textToHtml(text: string): string {
  return escape(text).replace(/\r?\n/g, '<br>');
}

export { escape as escapeHtml };
