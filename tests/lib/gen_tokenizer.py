# SPDX-License-Identifier: ISC
"""A small byte-level BPE tokenizer in the Hugging Face tokenizers format
(tokenizer.json), for the fixtures: the 256 byte symbols, merges learned
from a short English text until the vocabulary is full, and two special
tokens at the end; reserved special tokens fill what the text cannot.

    write_tokenizer(folder, vocab_size) -> (bos_id, eos_id)
    Encoder(json.load(open("tokenizer.json")))(text) -> ids
"""
import collections
import json
import os
import re

TEXT = """
The model reads a sentence and writes the next word. A small model knows
little, but it still computes what the large one computes, one layer after
another: a norm, the attention over the words before, another norm, and the
feed forward part. Ternary weights are minus one, zero or one; the scale of
each matrix brings them back to the size of the original numbers. The
activations are rounded to eight bits for every token, so the products are
integers, and only one multiplication per row turns them back into floats.
When the converter runs, it reads the weights tensor by tensor, writes them
into a stream, and the next program in the pipe builds the graph. Nothing
is held whole in memory; a truncated stream is an error and never a smaller
model. The tokenizer splits the text into bytes and merges the pairs that
come most often, so common words become single tokens and rare words stay
in pieces. Once upon a time there was a little program that turned big
models into small files, and everybody who ran it got the same answer.
Rivers carry water from the mountains to the sea. In spring the snow melts,
the streams grow quickly, and farmers watch the fields turn green again.
Children walk to school along the road, counting birds on the wires and
trucks on the bridge; their teacher asks them to write about the weather,
the colour of the sky, and the sound of rain against the windows.
Kitchens smell of bread and coffee in the morning. A baker opens his shop
before dawn, kneads the dough, lights the oven, and sells warm loaves to
neighbours who stop on their way to work. Cheese, apples, honey, butter,
onions, potatoes and fresh herbs fill the baskets at the weekly market.
Scientists measure everything twice: temperature, pressure, distance,
speed, voltage and frequency. They publish numbers with their errors,
describe each experiment carefully, and invite others to repeat it.
Mathematics gives them equations; computers give them simulations; and
patience gives them results that survive the next question.
Ships follow lighthouses through the night; pilots follow radio beacons
through clouds; travellers follow maps, signs, stars and strangers who
kindly point the way toward the station, the hotel or the museum.
Music fills the evening: violins, pianos, guitars, drums and voices join
in harmony, while dancers move in circles under bright yellow lanterns.
Libraries keep journals, novels, dictionaries, atlases and histories of
kingdoms, empires, revolutions, inventions, discoveries and journeys.
"""

SPECIALS = ("<|begin_of_text|>", "<|end_of_text|>")
PRETOKENIZE = re.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+"
    r"|\s+(?!\S)|\s+")


def byte_symbols():
    """The byte-level alphabet: printable bytes stand for themselves, the
    others are moved to code points from 256 up, in byte order."""
    keep = (list(range(ord("!"), ord("~") + 1)) +
            list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def merge_pair(word, pair):
    """word (a sequence of symbols) with every occurrence of pair joined,
    left to right."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def learn_merges(text, count, table):
    words = collections.Counter(
        tuple(table[b] for b in w.encode()) for w in PRETOKENIZE.findall(
            text))
    merges = []
    while len(merges) < count:
        pairs = collections.Counter()
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        new = collections.Counter()
        for w, n in words.items():
            new[tuple(merge_pair(w, best))] += n
        words = new
    return merges


def special(tid, content):
    return {"id": tid, "content": content, "single_word": False,
            "lstrip": False, "rstrip": False, "normalized": False,
            "special": True}


def build(vocab_size, text=TEXT, learn=learn_merges):
    """tokenizer.json's object for a vocabulary of vocab_size ids, merges
    learned from text by learn(text, count, table)."""
    if vocab_size < 256 + len(SPECIALS):
        raise ValueError("a byte-level vocabulary needs at least %d ids"
                         % (256 + len(SPECIALS)))
    table = byte_symbols()
    vocab = {table[b]: b for b in range(256)}
    merges = learn(text, vocab_size - 256 - len(SPECIALS), table)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    added = []
    while len(vocab) + len(added) < vocab_size - len(SPECIALS):
        added.append(special(len(vocab) + len(added),
                             "<|reserved_special_token_%d|>" % len(added)))
    for s in SPECIALS:
        added.append(special(len(vocab) + len(added), s))
    level = {"type": "ByteLevel", "add_prefix_space": False,
             "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added, "normalizer": None,
        "pre_tokenizer": level, "post_processor": dict(level),
        "decoder": dict(level),
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab,
                  "merges": ["%s %s" % m for m in merges]},
    }


def write_tokenizer(folder, vocab_size):
    tok = build(vocab_size)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    return ids[SPECIALS[0]], ids[SPECIALS[1]]


class Encoder:
    """Byte-level BPE encoding with the merges of a tokenizer.json."""

    def __init__(self, tok):
        self.vocab = tok["model"]["vocab"]
        self.rank = {tuple(m.split(" ")): i for i, m in
                     enumerate(tok["model"]["merges"])}
        self.table = byte_symbols()
        self.cache = {}

    def word(self, w):
        if w in self.cache:
            return self.cache[w]
        syms = [self.table[b] for b in w.encode()]
        while len(syms) > 1:
            pairs = [(self.rank.get((a, b), 1 << 30), i)
                     for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            r, i = min(pairs)
            if r == 1 << 30:
                break
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        ids = [self.vocab[s] for s in syms]
        self.cache[w] = ids
        return ids

    def __call__(self, text):
        out = []
        for w in PRETOKENIZE.findall(text):
            out.extend(self.word(w))
        return out

    def decode(self, ids):
        """The text of ids (special tokens by their names)."""
        if not hasattr(self, "symbol"):
            self.symbol = {i: s for s, i in self.vocab.items()}
            self.byte = {c: b for b, c in self.table.items()}
        raw = bytearray()
        for i in ids:
            s = self.symbol.get(i)
            if s is None:
                raw += b"<%d>" % i
            else:
                raw += bytes(self.byte[c] for c in s)
        return raw.decode("utf-8", errors="replace")
