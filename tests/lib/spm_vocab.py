# SPDX-License-Identifier: ISC
"""SentencePiece vocabularies as llama.cpp writes them into GGUF
(tokenizer.ggml.model "llama": tokens, scores, token types, the special
ids), from a trained SentencePiece model or from a Hugging Face
tokenizer.json of one (LLaMA-2's), and the reference ids of a SentencePiece
model as llama.cpp tokenizes with special tokens parsed.

    from_spm(model_path, user_defined) -> (kv records, pieces)
    from_tokenizer_json(tok) -> kv records
    spm_reference(model_path, texts, specials) -> list of id lists
    train(texts, prefix, user_defined, *flags) -> model path
"""
import re
import subprocess

from gguf_fixture import (V_ARRAY, V_BOOL, V_F32, V_I32, V_STRING, V_U32,
                          kv)

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>\Z")


def records(tokens, scores, types, bos, eos, unk, add_bos=True):
    return [kv("tokenizer.ggml.model", V_STRING, "llama"),
            kv("tokenizer.ggml.tokens", V_ARRAY, (V_STRING, tokens)),
            kv("tokenizer.ggml.scores", V_ARRAY, (V_F32, scores)),
            kv("tokenizer.ggml.token_type", V_ARRAY, (V_I32, types)),
            kv("tokenizer.ggml.bos_token_id", V_U32, bos),
            kv("tokenizer.ggml.eos_token_id", V_U32, eos),
            kv("tokenizer.ggml.unknown_token_id", V_U32, unk),
            kv("tokenizer.ggml.add_bos_token", V_BOOL, add_bos),
            kv("tokenizer.ggml.add_eos_token", V_BOOL, False)]


def from_spm(model_path, user_defined=()):
    """The GGUF records of a trained model, as llama.cpp's converter reads
    its pieces: score and type each (user-defined ones are those given)."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=model_path)
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        p = sp.id_to_piece(i)
        tokens.append(p)
        scores.append(sp.get_score(i))
        types.append(UNKNOWN if sp.is_unknown(i) else
                     CONTROL if sp.is_control(i) else
                     BYTE if sp.is_byte(i) else
                     UNUSED if sp.is_unused(i) else
                     USER_DEFINED if p in user_defined else NORMAL)
    return records(tokens, scores, types, sp.bos_id(), sp.eos_id(),
                   sp.unk_id()), tokens


def from_tokenizer_json(tok):
    """The GGUF records of a BPE tokenizer.json with byte fallback made
    from a SentencePiece model: a piece's score is minus the rank of the
    first merge that makes it (what orders SentencePiece's merges), 0 for
    pieces no merge makes; added special tokens are control ones (the
    model's unknown token unknown), <0xXX> pieces bytes."""
    m = tok["model"]
    assert m["type"] == "BPE" and m["byte_fallback"], m["type"]
    vocab = m["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    scores = [0.0] * len(tokens)
    for rank in range(len(m["merges"]) - 1, -1, -1):
        pair = m["merges"][rank]
        left, right = pair.split(" ") if isinstance(pair, str) else pair
        scores[vocab[left + right]] = -float(rank)
    types = [BYTE if BYTE_PIECE.match(t) else NORMAL for t in tokens]
    special = {a["content"]: a["id"] for a in tok["added_tokens"]}
    for t, i in special.items():
        types[i] = UNKNOWN if t == m["unk_token"] else CONTROL
    return records(tokens, scores, types, special["<s>"], special["</s>"],
                   special[m["unk_token"]])


def spm_reference(model_path, texts, specials):
    """The ids llama.cpp gives each text with special tokens parsed: a BOS,
    then the text cut at each of specials (control and user-defined
    pieces, the longest first), every other part encoded by SentencePiece
    on its own (so with the space SentencePiece puts before a text)."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=model_path)
    cut = re.compile("(%s)" % "|".join(
        re.escape(s) for s in sorted(specials, key=len, reverse=True)))
    out = []
    for text in texts:
        ids = [sp.bos_id()]
        for i, part in enumerate(cut.split(text)):
            if i % 2:
                ids.append(sp.piece_to_id(part))
            elif part:
                ids += sp.encode(part)
        out.append(ids)
    return out


def train(texts, prefix, user_defined=(), *flags):
    """A SentencePiece BPE model of 4000 pieces learnt from texts with
    LLaMA's settings (digits split, byte fallback, no normalization,
    whitespace kept) and the user-defined tokens given."""
    corpus = prefix + ".txt"
    with open(corpus, "w") as f:
        f.write("\n".join(texts) + "\n")
    subprocess.run(["spm_train", "--input=" + corpus,
                    "--model_prefix=" + prefix, "--vocab_size=4000",
                    "--model_type=bpe", "--byte_fallback=true",
                    "--split_digits=true",
                    "--normalization_rule_name=identity",
                    "--remove_extra_whitespaces=false",
                    "--allow_whitespace_only_pieces=true",
                    "--user_defined_symbols=" + ",".join(user_defined),
                    "--minloglevel=2"] + list(flags), check=True)
    return prefix + ".model"
