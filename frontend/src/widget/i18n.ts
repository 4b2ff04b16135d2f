/** The widget's words in English and Simplified Chinese. */
const en = {
  title: "Chat",
  close: "Close chat",
  online: "We're online",
  onlineSub: "We typically reply in a few minutes",
  away: "We're away right now",
  awaySub: "Leave a message and we'll reply by email",
  placeholder: "Write a message…",
  send: "Send",
  attach: "Attach a file",
  removeAttachment: "Remove attachment",
  sending: "Sending…",
  sent: "Sent",
  seen: "Seen",
  failed: "Not sent",
  typing: "{name} is typing…",
  someone: "Someone",
  you: "You",
  team: "Team",
  reconnecting: "Reconnecting…",
  messages: "Messages",
  prechatTitle: "Before we start",
  prechatIntro: "Tell us who you are so we can follow up if you leave.",
  name: "Name",
  email: "Email",
  message: "Message",
  start: "Start chat",
  offlineTitle: "Leave us a message",
  offlineIntro: "Nobody is available right now. Leave your email and message and we'll get back to you.",
  offlineSend: "Send message",
  offlineThanks: "Thanks! We got your message and will reply to {email}.",
  emailInvalid: "Please enter a valid email address.",
  required: "This field is required.",
  tooLarge: "“{name}” is too large ({size}). The limit is {limit}.",
  badType: "“{name}” can't be sent: only images, PDF, text, CSV, ZIP, Word and Excel files are allowed.",
  uploadFailed: "The file could not be uploaded: {detail}",
  sendFailed: "Not sent: {detail}",
  rateTitle: "How was this conversation?",
  rateStar: "{n} out of 5",
  rateComment: "Anything to add? (optional)",
  rateSubmit: "Send feedback",
  rateThanks: "Thanks for your feedback!",
  resolved: "This conversation was marked as resolved.",
  assigned: "{name} joined the conversation",
  reopened: "Conversation reopened",
  unavailable: "Chat is unavailable on this site.",
  download: "Download",
  poweredBy: "Powered by Switchboard",
};
export type Strings = typeof en;

const zh: Strings = {
  title: "聊天",
  close: "关闭聊天",
  online: "我们在线",
  onlineSub: "通常几分钟内回复",
  away: "我们暂时不在",
  awaySub: "请留言，我们会通过邮件回复您",
  placeholder: "输入消息…",
  send: "发送",
  attach: "添加附件",
  removeAttachment: "移除附件",
  sending: "发送中…",
  sent: "已发送",
  seen: "已读",
  failed: "未发送",
  typing: "{name} 正在输入…",
  someone: "有人",
  you: "您",
  team: "团队",
  reconnecting: "正在重新连接…",
  messages: "消息",
  prechatTitle: "开始之前",
  prechatIntro: "请留下您的信息，方便我们后续联系您。",
  name: "姓名",
  email: "邮箱",
  message: "留言",
  start: "开始聊天",
  offlineTitle: "给我们留言",
  offlineIntro: "现在没有客服在线。请留下邮箱和留言，我们会尽快回复您。",
  offlineSend: "发送留言",
  offlineThanks: "谢谢！我们已收到您的留言，将回复至 {email}。",
  emailInvalid: "请输入有效的邮箱地址。",
  required: "此项为必填。",
  tooLarge: "“{name}” 太大（{size}），上限为 {limit}。",
  badType: "无法发送 “{name}”：仅支持图片、PDF、文本、CSV、ZIP、Word 和 Excel 文件。",
  uploadFailed: "文件上传失败：{detail}",
  sendFailed: "未发送：{detail}",
  rateTitle: "您对本次对话满意吗？",
  rateStar: "{n} 星（满分 5 星）",
  rateComment: "还有什么想说的吗？（可选）",
  rateSubmit: "提交评价",
  rateThanks: "感谢您的反馈！",
  resolved: "此对话已标记为已解决。",
  assigned: "{name} 加入了对话",
  reopened: "对话已重新打开",
  unavailable: "此网站暂不支持聊天。",
  download: "下载",
  poweredBy: "由 Switchboard 提供支持",
};

export type Lang = "en" | "zh-Hans";

/** `data-lang` wins; else the browser's language; Chinese variants map to Simplified Chinese. */
export function pickLang(requested: string | null, browser: readonly string[]): Lang {
  for (const tag of [requested, ...browser]) {
    if (!tag) continue;
    const t = tag.toLowerCase();
    if (t.startsWith("zh")) return "zh-Hans";
    if (t.startsWith("en")) return "en";
  }
  return "en";
}

export function strings(lang: Lang): Strings {
  return lang === "zh-Hans" ? zh : en;
}

/** Fill `{name}` placeholders. The result is plain text, always rendered with textContent. */
export function fmt(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}
