// prompt.mjs - the benchmark prompt, shared by bench.mjs (for pinfer) and llamacpp_run.mjs.
//
// Each word below, after a space, is one token of the Llama 3 vocabulary, so
// promptText(n) is n tokens and, with BOS, an n + 1 token prompt for both
// engines. llamacpp_run.mjs checks the count with llama.cpp's tokenizer and
// bench.mjs checks the count that pinfer reports.
const WORDS = (
    "the city grew along the river where people came to trade wood salt and fish " +
    "over many years the small market became a town with streets houses and a school"
).split(" ");

export function promptText(nTokens) {
    const words = [];
    for (let i = 0; i < nTokens; i++)
        words.push(WORDS[i % WORDS.length]);
    return words.join(" ");
}
