#!/bin/sh
# Regenerates the Chinese announcements shipped in this folder as 8 kHz mono
# 16-bit PCM WAV. Needs Debian's espeak-ng and sox:
#   apt-get update && apt-get install -y espeak-ng sox
# Text is fed as tone-numbered pinyin to the cmn-latn-pinyin voice: Debian's
# espeak-ng 1.51 reads some Hanzi through its English fallback ("zai4" becomes
# "zay four"), while pinyin input always gets Mandarin tones. Numbers are read the
# way Chinese operators say phone numbers (110 = yao1 yao1 ling2).
set -eu
cd "$(dirname "$0")"
VOICE="${VOICE:-cmn-latn-pinyin+f2}"
SPEED="${SPEED:-185}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say() { # name, pinyin (the Chinese text is in the comment above each call)
	espeak-ng -v "$VOICE" -s "$SPEED" -w "$tmp/$1.wav" "$2"
	# resample with sox's anti-aliasing, peak at -3 dBFS, short silence around the
	# words; -D (no dither) keeps the output byte-for-byte reproducible
	sox -D "$tmp/$1.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1.wav" norm -3 pad 0.15 0.25
}

# 正在为您转接110，请稍候
say transfer-110 "zheng4 zai4 wei4 nin2 zhuan3 jie1 yao1 yao1 ling2, qing3 shao1 hou4"
# 正在为您转接12345，请稍候
say transfer-12345 "zheng4 zai4 wei4 nin2 zhuan3 jie1 yao1 er4 san1 si4 wu3, qing3 shao1 hou4"
# 对方暂时无人接听，正在为您接回原坐席
say transfer-noanswer "dui4 fang1 zan4 shi2 wu2 ren2 jie1 ting1, zheng4 zai4 wei4 nin2 jie1 hui2 yuan2 zuo4 xi2"
# 正在为您建立三方通话，请稍候
say threeway "zheng4 zai4 wei4 nin2 jian4 li4 san1 fang1 tong1 hua4, qing3 shao1 hou4"
# 紧急警情，正在优先转接110
say emergency-110 "jin3 ji2 jing3 qing2, zheng4 zai4 you1 xian1 zhuan3 jie1 yao1 yao1 ling2"
