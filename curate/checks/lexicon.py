"""Every word list the truncation rules read, in one place, each with why it exists.

A list here is a bet that a word behaves the same in data the rules were not written on; bench/
truncation.py measures the rules that use them on held-out seeds. Keep lists short and general
(grammar, syntax), not words seen in one answer."""

from __future__ import annotations

# Prose: words a phrase cannot end on (articles, prepositions, conjunctions, auxiliaries, determiners,
# verbs that need an object). An answer that stops on one stopped mid-phrase.
DANGLING = frozenset(
    "the a an and or to of with for in on at by from that which then but because is are was were will can your "
    "their its as than into unable according regarding including despite toward towards whether various numerous "
    "if when while so my our whose such every could would should might must very between through without within "
    "onto upon among via per different multiple several becomes equals includes contains requires involves".split())

# Modal verbs: "would be" with nothing after it is cut ("as it should be" is whole, see the rule).
MODALS = frozenset("would will could should must can may might".split())

# Words that announce a result: a note after code ("print(x) # Prints") that stops on one was cut.
SHOWS = frozenset("returns prints outputs output gives displays shows yields equals => ->".split())

# Words a question opens with: a question that never reached its "?" ("What sort of mentoring").
ASKING = frozenset("what how why which who whom where when do does did is are can could would should will have "
                   "has shall may".split())

# Subjects after an asking word: "Is there", "Can you" are a question's first two words, never all of it.
ASKED_OF = frozenset("there it you the a an this that we they i he she your my".split())

# Sign-offs: a letter may end on "Best regards," and a name; a comma after these is not a cut.
CLOSINGS = ("regards", "sincerely", "thanks", "thank you", "cheers", "best", "yours", "love", "warmly")

# Words a conclusion opens with ("So the angle", "Thus, the final"): alone, the conclusion was cut.
CONNECTIVES = frozenset("so thus therefore hence finally".split())
# ...unless the short line after it is a whole phrase: "So it", "Hence all", "Thus on", "so forth".
ENDS_AFTER_CONNECTIVE = frozenset("it all on etc that this these those them more well too now again here there "
                                  "forth so you me us yes no true".split())

# Keywords a line of code cannot end on ("for x in", "class Rectangle:\n    def"): the statement goes on.
CODE_DANGLING = frozenset(
    "if elif for while in def class let var const new not and or is import from lambda with as async await "
    "function case return void int static public private protected struct enum interface extends implements "
    "throws select where join on by".split())

# Words that end a block in the languages without braces (shell, Ruby, Basic): a line of one is whole.
BLOCK_ENDS = ("end", "fi", "done", "esac", "endif", "wend", "loop", "next")
# Statements that are whole as one word ("pass", "break", "return", "done"), and values a line may show
# alone ("true", "None"): a bare name on a line is a cut statement, these are not.
STATEMENT_ALONE = frozenset(("pass", "break", "continue", "return", "exit", "quit", "raise", "yield", "else",
                             "echo", "print", "puts", "true", "false", "none", "null", "nil") + BLOCK_ENDS)

# Counts written as words, for lists short of what was asked ("Name five countries").
NUMBERS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen "
                                        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split(), 1)}
# What a count in a prompt may measure besides list items ("in 50 words", "5 minutes"): not a list.
NOT_ITEMS = ("words?", "sentences?", "characters?", "paragraphs?", "lines?", "minutes?", "seconds?", "hours?",
             "days?", "years?", "%", "percent")
# Verbs that ask for a list ("list", "name", "give me five").
ASK_FOR_ITEMS = ("list", "name", "give", "provide", "generate", "suggest", "write", "create", "identify", "compose",
                 "brainstorm", "come up with", "outline", "describe", "find", "recommend", "share", "offer")

# HTML elements with no closing tag: an answer may end on one.
VOID_TAGS = frozenset("br hr img input meta link area base col embed source track wbr param !doctype".split())
# Elements that wrap a document's content: left open, the content after them was cut.
BLOCK_TAGS = ("html", "body", "head", "div", "ul", "ol", "table", "form", "section", "script", "style", "svg")

# Sections a document may end on with nothing under them (a table of contents ends on "Index", steps on
# "End"): a short last item naming one is whole.
CLOSING_SECTIONS = frozenset(
    "index conclusion conclusions summary appendix appendices references bibliography glossary acknowledgments "
    "acknowledgements epilogue afterword sources notes resources faq contact end stop done finish exit".split())

# Comments that stand in for code left out on purpose ("# your code here", "# handle it"): not a cut.
PLACEHOLDER_WORDS = ("code", "something", "here", "todo", "logic", "implementation", "stuff", "body", "handle",
                     r"function \d")
# One-word comments that show a value rather than introduce code ("# True", "# Output").
SHOWN_VALUES = frozenset("true false none null nil output result done yes end error".split())
