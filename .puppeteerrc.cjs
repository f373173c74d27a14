// The browser tests drive Debian's Chromium (/usr/bin/chromium); never download one.
module.exports = { skipDownload: true };
