// A small, safe Markdown renderer for the subset card details use: ATX headings, paragraphs,
// bullet and numbered lists, bold, italic, inline code, fenced code, block quotes, rules, links
// (http/https only) and hard line breaks. It builds DOM nodes with createElement and text nodes
// only: any HTML in the text is shown as text, never parsed.

const PUNCTUATION = "\\`*_{}[]()#+-.!<>|~\"'";

function safeUrl(url) {
  return /^https?:\/\/[^\s]+$/i.test(url) ? url : null;
}

function link(doc, href, label) {
  const a = doc.createElement("a");
  a.href = href;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  a.append(...label);
  return a;
}

/** Inline markup of `text` as an array of DOM nodes. */
export function renderInline(text, doc = document) {
  const out = [];
  let buffer = "";
  const flush = () => {
    if (buffer) out.push(doc.createTextNode(buffer));
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    if (c === "\\" && i + 1 < text.length && PUNCTUATION.includes(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) {
        flush();
        const code = doc.createElement("code");
        code.textContent = text.slice(i + 1, end);
        out.push(code);
        i = end + 1;
        continue;
      }
    }
    if (rest.startsWith("**") || rest.startsWith("__")) {
      const delim = rest.slice(0, 2);
      const end = text.indexOf(delim, i + 2);
      if (end > i + 2) {
        flush();
        const strong = doc.createElement("strong");
        strong.append(...renderInline(text.slice(i + 2, end), doc));
        out.push(strong);
        i = end + 2;
        continue;
      }
    }
    if ((c === "*" || c === "_") && text[i + 1] && text[i + 1] !== " " && text[i + 1] !== c) {
      const wordBefore = i > 0 && /[A-Za-z0-9]/.test(text[i - 1]);
      if (!(c === "_" && wordBefore)) {
        let end = i + 1;
        for (;;) {
          end = text.indexOf(c, end);
          if (end < 0) break;
          const intraword = c === "_" && end + 1 < text.length && /[A-Za-z0-9]/.test(text[end + 1]);
          if (text[end - 1] !== " " && text[end + 1] !== c && !intraword) break;
          end += 1;
        }
        if (end > i + 1) {
          flush();
          const em = doc.createElement("em");
          em.append(...renderInline(text.slice(i + 1, end), doc));
          out.push(em);
          i = end + 1;
          continue;
        }
      }
    }
    if (c === "[") {
      const m = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(rest);
      if (m) {
        flush();
        const href = safeUrl(m[2]);
        const label = renderInline(m[1], doc);
        out.push(...(href ? [link(doc, href, label)] : label));
        i += m[0].length;
        continue;
      }
    }
    if (c === "<") {
      const m = /^<(https?:\/\/[^>\s]+)>/i.exec(rest);
      if (m) {
        flush();
        out.push(link(doc, m[1], [doc.createTextNode(m[1])]));
        i += m[0].length;
        continue;
      }
    }
    buffer += c;
    i += 1;
  }
  flush();
  return out;
}

/** Paragraph lines: a line ending in two spaces or a backslash is a hard break. */
function renderLines(lines, doc) {
  const nodes = [];
  lines.forEach((line, index) => {
    const hard = / {2,}$/.test(line) || /\\$/.test(line);
    const text = line.replace(/ {2,}$/, "").replace(/\\$/, "").trim();
    nodes.push(...renderInline(text, doc));
    if (index < lines.length - 1) nodes.push(hard ? doc.createElement("br") : doc.createTextNode(" "));
  });
  return nodes;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const FENCE = /^\s{0,3}(```|~~~)/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

/**
 * `markdown` rendered into a DocumentFragment. Headings are shifted down (`#` → h4, `##` → h4,
 * `###` → h5, deeper → h6) because a card sits under the page's own headings.
 */
export function renderMarkdown(markdown, doc = document) {
  const fragment = doc.createDocumentFragment();
  const lines = String(markdown || "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      code.textContent = body.join("\n");
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(6, Math.max(4, heading[1].length + 2));
      const h = doc.createElement(`h${level}`);
      h.className = `md-h${heading[1].length}`;
      h.append(...renderInline(heading[2], doc));
      fragment.append(h);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      fragment.append(doc.createElement("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(QUOTE.exec(lines[i++])[1]);
      const quote = doc.createElement("blockquote");
      quote.append(renderMarkdown(body.join("\n"), doc));
      fragment.append(quote);
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = NUMBERED.exec(line);
    if (bullet || numbered) {
      const ordered = !bullet;
      const pattern = ordered ? NUMBERED : BULLET;
      const list = doc.createElement(ordered ? "ol" : "ul");
      if (ordered && numbered[1] !== "1") list.start = Number(numbered[1]);
      while (i < lines.length && pattern.test(lines[i])) {
        const m = pattern.exec(lines[i]);
        const itemLines = [ordered ? m[2] : m[1]];
        i += 1;
        // Continuation lines: indented, not a new item or block.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !pattern.test(lines[i])) itemLines.push(lines[i++].trim());
        const li = doc.createElement("li");
        li.append(...renderLines(itemLines, doc));
        list.append(li);
      }
      fragment.append(list);
      continue;
    }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() !== "" && !HEADING.test(lines[i]) && !BULLET.test(lines[i]) &&
           !NUMBERED.test(lines[i]) && !FENCE.test(lines[i]) && !QUOTE.test(lines[i]) && !RULE.test(lines[i])) {
      paragraph.push(lines[i++]);
    }
    const p = doc.createElement("p");
    p.append(...renderLines(paragraph, doc));
    fragment.append(p);
  }
  return fragment;
}
