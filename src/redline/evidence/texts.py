"""The plain-language explanation and the certificate templates that go into an evidence bundle.

Placeholders in ``{braces}`` are filled from the bundle; ``[square brackets]`` are left for the person who
signs a certificate. Kept as text, not code, so a lawyer can review them in one place.
"""

from __future__ import annotations

EXPLANATION = {
    "en": """# Evidence bundle for case {case_id}

This folder was produced by a Redline hash bank (log "{origin}") on {made_at}. It contains **no pictures and
no names**: only the bank's record of what happened to this case, and the cryptographic proofs that the
record has not been changed since it was written.

## What it shows
- `rows.jsonl`: {rows} entries of the bank's audit log about this case (when it was created, how many
  picture fingerprints it holds, withdrawals, reviews). Each entry has a time in UTC.
- `checkpoint.txt`: a statement signed by the bank's key: "the log had {size} entries and this root hash".
  {cosigned}
- Every entry in `rows.jsonl` carries an inclusion proof: a short list of hashes that shows it is entry
  number N of that signed log. Changing one character of an entry makes its proof fail.
- `log.vkey`: the bank's public key. Compare it with the key the bank's operator publishes.
- `SHA256SUMS`: the SHA-256 fingerprint of every file here, so a copy can be identified by hash.

## How to check it (no internet, no access to the bank needed)
{verify_command}

The check says `OK` or names what is wrong. Anyone can run it: the software is open source.

## What it does not show
The pictures themselves were never sent to the bank: only fingerprints (perceptual hashes) computed on the
owner's own device. The bundle proves what the bank recorded and when, not what a picture showed.

## Certificates
`certificate-hk-s22a.md` (Hong Kong, Evidence Ordinance Cap. 8, s.22A) and `certificate-us-fre-902.md`
(United States, Federal Rules of Evidence 902(13) and 902(14)) are templates for the person responsible for
the bank to complete and sign. Take legal advice before relying on them.
""",
    "zh-Hant": """# 個案 {case_id} 的證據包

本資料夾由 Redline 雜湊資料庫（日誌「{origin}」）於 {made_at} 產生。內容**不含任何圖片，也不含任何姓名**，
只有資料庫就此個案所作的紀錄，以及證明這些紀錄自寫入後從未被更改的密碼學證明。

## 內容說明
- `rows.jsonl`：資料庫稽核日誌中與此個案有關的 {rows} 項紀錄（何時建立、包含多少張圖片的指紋、撤回、審核等），
  每項均附有協調世界時（UTC）時間。
- `checkpoint.txt`：以資料庫金鑰簽署的聲明：「日誌當時共有 {size} 項紀錄，根雜湊值如下」。{cosigned_zh}
- `rows.jsonl` 中每項紀錄都附有「包含證明」：一串簡短的雜湊值，證明該紀錄是上述已簽署日誌中的第 N 項。
  即使只改動一個字元，證明亦會失效。
- `log.vkey`：資料庫的公開金鑰，請與營運者公佈的金鑰核對。
- `SHA256SUMS`：本資料夾每個檔案的 SHA-256 指紋，可憑雜湊值辨認副本。

## 如何核實（無需上網，亦無需連接資料庫）
{verify_command}

核實結果會顯示 `OK`，或指出哪裏出錯。任何人都可以執行：軟件是開放源碼的。

## 證據包不能證明的事
圖片本身從未傳送到資料庫：只有在當事人自己的裝置上計算出來的指紋（感知雜湊值）。
本證據包證明資料庫記錄了甚麼、於何時記錄，而不是圖片的內容。

## 證明書
`certificate-hk-s22a.md`（香港《證據條例》（第 8 章）第 22A 條）及 `certificate-us-fre-902.md`
（美國《聯邦證據規則》第 902(13) 及 902(14) 條）為範本，須由負責該資料庫的人士填寫及簽署。
使用前請徵詢法律意見。
""",
    "zh-Hans": """# 个案 {case_id} 的证据包

本文件夹由 Redline 哈希数据库（日志“{origin}”）于 {made_at} 生成。内容**不含任何图片，也不含任何姓名**，
只有数据库就此个案所作的记录，以及证明这些记录自写入后从未被更改的密码学证明。

## 内容说明
- `rows.jsonl`：数据库审计日志中与此个案有关的 {rows} 条记录（何时创建、包含多少张图片的指纹、撤回、审核等），
  每条均附有协调世界时（UTC）时间。
- `checkpoint.txt`：以数据库密钥签署的声明：“日志当时共有 {size} 条记录，根哈希值如下”。{cosigned_zh}
- `rows.jsonl` 中每条记录都附有“包含证明”：一串简短的哈希值，证明该记录是上述已签署日志中的第 N 条。
  即使只改动一个字符，证明也会失效。
- `log.vkey`：数据库的公开密钥，请与运营者公布的密钥核对。
- `SHA256SUMS`：本文件夹每个文件的 SHA-256 指纹，可凭哈希值辨认副本。

## 如何核验（无需联网，也无需连接数据库）
{verify_command}

核验结果会显示 `OK`，或指出哪里出错。任何人都可以运行：软件是开源的。

## 证据包不能证明的事
图片本身从未发送到数据库：只有在当事人自己的设备上计算出来的指纹（感知哈希值）。
本证据包证明数据库记录了什么、于何时记录，而不是图片的内容。

## 证明书
`certificate-hk-s22a.md`（香港《证据条例》（第 8 章）第 22A 条）及 `certificate-us-fre-902.md`
（美国《联邦证据规则》第 902(13) 及 902(14) 条）为范本，须由负责该数据库的人士填写及签署。
使用前请征询法律意见。
""",
}

CERTIFICATE_HK = """# Certificate under section 22A(5) of the Evidence Ordinance (Cap. 8), Hong Kong

TEMPLATE — to be completed by a person occupying a responsible position in relation to the operation of
the computer. Making a false certificate is an offence. Take legal advice before use.

I, [full name], [position] of [organisation], certify as follows.

1. The document(s) identified below are statements produced by a computer:
   evidence bundle for case {case_id}, file `SHA256SUMS` with SHA-256 {sums_digest}, produced on {made_at}
   by the Redline hash bank operated by [organisation] at [location/URL].
2. The computer was used to store information regularly in the course of the activities carried on by
   [organisation], namely receiving and holding perceptual hashes submitted for the purpose of preventing the
   spread of non-consensual intimate images, and the information in the statement was supplied to it in the
   ordinary course of those activities (s.22A(2)(a), (b)).
3. Appropriate measures were in force for preventing unauthorised interference with the computer
   (s.22A(2)(c)), including: every audit record is a leaf of an RFC 6962 Merkle tree; the tree is signed
   (checkpoint of {size} records, origin "{origin}") with a key held only by [who]; the database refuses to
   change or delete audit and log records (triggers); {witness_measure}; [access controls, backups].
4. Throughout the material part of the period [dates] the computer was operating properly, or any respect
   in which it was not did not affect the production of the statement or the accuracy of its contents
   (s.22A(2)(d)). [Describe monitoring; any incidents.]
5. The statement was produced by the computer as follows: `redline evidence bundle {case_id}`; it can be
   checked by anyone with `{verify_command}`.

Signed: ____________________   Date: ____________   Position: ____________________
"""

CERTIFICATE_US = """# Certification of records generated by an electronic process or system
# Federal Rules of Evidence 902(13) and 902(14) (with 902(11)/(12)), United States

TEMPLATE — to be completed by a qualified person. The certification must describe the process, not merely
conclude that it is reliable. Reasonable written notice must be given to the adverse party. Take legal
advice before use.

I, [full name], declare under penalty of perjury under the laws of [jurisdiction] that:

1. I am [position] at [organisation] and am familiar with the Redline hash bank it operates, which made
   the records in the evidence bundle for case {case_id} (made {made_at}).
2. FRE 902(13) — the process that generated the records: each state change of the bank (a case created,
   fingerprints added, a withdrawal, a review) is written to an append-only audit log in the same database
   transaction as the change. Each audit record is a leaf of an RFC 6962 Merkle tree; the server signs
   checkpoints of that tree with an Ed25519 key (C2SP signed-note format; origin "{origin}"); the bundle's
   checkpoint covers {size} records. {witness_measure}. The process produces an accurate result because any
   change, removal or reordering of a record after signing makes the verification below fail.
3. FRE 902(14) — the data was copied from the bank's database by `redline evidence bundle`, and each file
   is identified by its SHA-256 hash in `SHA256SUMS` (SHA-256 of that file: {sums_digest}). The copy can be
   verified with `{verify_command}`, which recomputes every hash and proof.
4. The records were made at or near the time of the events they record, by the system, in the course of
   the regularly conducted activity of [organisation], and it was its regular practice to make them.

Executed on [date] at [place].   Signature: ____________________
"""

#: Added to the explanation when the case came from a collection intake (a third-party case).
MANIFEST_NOTE = {
    "en": """
## The intake manifest
This case was filed by a flagger who found the pictures, not by the person shown. `intake-manifest.txt` is
the list the flagger's computer made when it hashed them: for each file its SHA-256, PDQ, size, media type
and the time it was hashed, signed there with the flagger's key (the `signer` inside it). Its SHA-256 is
in the `case.flagged` row of `rows.jsonl`, which the log signed, so it cannot have been changed since. It
names nobody; the file names and metadata stay with the flagger, encrypted, and can be matched to it later.
""",
    "zh-Hant": """
## 收集清單
此個案由發現圖片的人士（舉報者）提交，而非圖中人。`intake-manifest.txt` 是舉報者電腦在計算雜湊值時製作的清單：
每個檔案的 SHA-256、PDQ、大小、類型及時間，並以舉報者的金鑰簽署。其 SHA-256 記錄在 `rows.jsonl` 的
`case.flagged` 一行（已由日誌簽署），因此之後無法被更改。
清單不含任何名字；檔案名稱及元數據以加密方式由舉報者保存。
""",
    "zh-Hans": """
## 收集清单
此个案由发现图片的人士（举报者）提交，而非图中人。`intake-manifest.txt` 是举报者电脑在计算哈希值时制作的清单：
每个文件的 SHA-256、PDQ、大小、类型及时间，并以举报者的密钥签署。其 SHA-256 记录在 `rows.jsonl` 的
`case.flagged` 一行（已由日志签署），因此之后无法被更改。
清单不含任何名字；文件名及元数据以加密方式由举报者保存。
""",
}
