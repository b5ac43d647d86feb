// The small text `recurrent demo overfit` trains on when no --text is given: sentences drawn from
// a little grammar (subject, verb, object, an optional place), seeded, so that a model can learn
// the words and their order but not the draws, which is what it memorises when it overfits.
import RecurrentKit

/// A seeded text of grammatical sentences, lower-case letters, spaces, commas, full stops and newlines.
enum OverfitCorpus {
    static let subjects = ["the cat", "a dog", "the old man", "my sister", "the farmer", "a small bird", "the teacher",
                           "our neighbour", "the captain", "a tired horse", "the baker", "his friend"]
    static let verbs = ["sees", "follows", "likes", "carries", "paints", "finds", "watches", "calls", "feeds", "remembers",
                        "helps", "waits for"]
    static let objects = ["the red ball", "a letter", "the river", "an apple", "the green door", "a song", "the boat",
                          "some bread", "the garden", "a yellow kite", "the window", "the map"]
    static let places = ["in the morning", "near the bridge", "after dinner", "on the hill", "by the sea", "at the market",
                         "under the tree", "in the rain"]

    /// About `characters` characters (whole sentences) drawn from `seed`.
    static func text(characters: Int, seed: UInt64) -> String {
        var random = PhiloxStream(seed: seed, stream: 4_000_000)
        func pick(_ words: [String]) -> String {
            words[min(Int(Philox.unitFloat(random.nextWord()) * Float(words.count)), words.count - 1)]
        }
        var text = "", sentence = 0
        while text.unicodeScalars.count < characters {
            var s = pick(subjects) + " " + pick(verbs) + " " + pick(objects)
            if Philox.unitFloat(random.nextWord()) < 0.5 { s += " " + pick(places) }
            if Philox.unitFloat(random.nextWord()) < 0.25 { s += ", and " + pick(subjects) + " " + pick(verbs) + " " + pick(objects) }
            sentence += 1
            text += s + (sentence % 4 == 0 ? ".\n" : ". ")
        }
        return text
    }
}
