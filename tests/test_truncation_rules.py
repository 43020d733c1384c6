"""The truncation rules one by one: each row of the table flags its own example and passes its
counterexample; each cut below (taken from answers the bench cut and earlier rules missed) is found by
the rule named beside it, and each whole answer (one a careless version of a rule flagged) passes."""

import pytest

from curate.checks import Context
from curate.checks.truncation import Truncation, find_cut
from curate.checks.truncation_rules import ANY, FAMILIES, RULES, fired
from curate.record import Example, Message, Source

CUT = [
    # prose and lists
    ("indented prose items end with a full stop", "list_item_cut", "Pay attention to:\n\n    Resolution: Look for 4K or higher.\n\n"
     "    HDR: Look for a TV that supports it.\n\n    Brand tech: Features like Motionflow are often just terms used"),
    ("siblings are the numbered items, not the bullets above", "list_item_cut", "Ingredients:\n- Eggs\n- Water\n\n1. Fill a saucepan "
     "with water and bring it to a simmer.\n2. Add a tablespoon of vinegar to the water.\n3. Crack"),
    ("a '* ' bullet is not a comment in prose", "list_item_cut", "Ways:\n\n* You could ask influencers to review your app. \n"
     "* You could also create a website to show your app. \n* Additionally, you could create a social"),
    ("a quoted passage never closes", "open_quote", 'Here:\n\n"Open-Dyslexic Is A Font. Letters Have Heavy Bottoms To Add A '
     'Kind Of "Gravity"'),
    ("the next section's title", "heading_last", "Weapons:\n\nWorld War I:\n- Machine guns\n- Poison gas\n- Tanks\n\nWorld War"),
    ("a table row short of cells", "short_row", "| Year | Rate |\n|---|---|\n| 2014 | 7.17 |\n| 2015 |"),
    ("a tab-separated row short of cells", "short_row", "Car\tSold\tShare\nMini\t1,099\t0.5%\nLeaf\t1,276\t1.5%\nPorsche"),
    ("a table row without its closing bar", "short_row", "| A | B |\n|---|---|\n| 1,1 | 1,2 |\n| 2,1 | 2,2"),
    ("a grid row short of figures", "short_row", "# 8 16 24 32 40\n# 9 18 27 36 45\n# 10 20 30"),
    ("an inline code span never closes", "open_quote", "Loop from `i = 0` to `i = n - 2`:\n   - Compute `sum = array[i]"),
    ("a question without its end", "mid_sentence", "Good to hear you want to learn.\n\nWhat sort of mentoring most interests"),
    ("the answer's own count", "list_short_of_request", "Here are the top five flight simulators:\n\n1. Microsoft Flight Simulator\n2. X-Plane"),
    ("a list item stops before 'to'", "dangling", "Dangers:\n\n- Surveillance of every payment.\n- Frozen accounts of people "
     "who are now unable"),
    ("a namespaced tag left open", "open_tag", "<xs:sequence>\n  <xs:element name=\"first\" type=\"xs:string\" />\n"
     "  <xs:element"),
    ("a two-word question", "mid_sentence", "Here is the script.\n\nIs there"),
    ("a poem line of one word under long ones", "mid_sentence", "Pondering the paths of a long life,\nWishing for a change "
     "of heart today,\nOn this cold and quiet winter day,\nHer"),
    ("an empty last item", "list_short_of_request", "Characters:\n\n9. Dill is imaginative and loves to tell stories.\n\n10."),
    ("an item stops before the part the others have", "list_item_cut", "Landmarks:\n1. Boston - 139 landmarks\n2. New York - 125 "
     "landmarks\n3. Los"),
    ("a question item without its '?'", "list_item_cut", "Questions:\n1. What is the purpose of the program?\n2. What"),
    ("a new local stored last, after an early return", "unused_local", "def depth(root):\n    if root is None:\n        return 0\n"
     "    else:\n        left = depth(root.left)"),
    ("'} else' with no block", "code_cut", 'if (n % 2 == 0) {\n console.log("even");\n} else'),
    ("a Java signature with no body", "code_cut", "public static boolean isAnagram(String s1, String s2)"),
    ("a word that needs its object", "dangling", "- Check whether the sum is divisible by 3: if `sum % 3` equals"),
    ("a question after code", "mid_sentence", "The simplest way is the aws cli. Here is an example:\n```python\nimport os\n"
     "os.system(cmd)\n```\n\nIs there something else"),
    ("an empty lettered option", "list_short_of_request", "Which was a payment system of the 19th century?\n\na) Credit cards\n"
     "b) Bitcoins\nc) Paper checks\nd)"),
    ("the last sentence only its condition", "clause_alone", "The formula is: (F - 32) x 5/9 = C.\n\nSo, if the temperature "
     "given in Fahrenheit"),
    ("an item of -ing items stops after its verb", "list_item_cut", "Activities:\n8. Playing sports on the courts\n"
     "9. Renting a paddle boat on the lake\n10. Participating"),
    ("the explanation under code in backticks", "mid_sentence", "Here is an example:\n\n`original = [4, 21, 11]\n"
     "reversed_list = original[::-1]`\n\nThe new reversed"),
    ("a table row of only its first cell", "short_row", "Year | Billions\n-----|---------\n2004 | 6.52\n2005 | 6.62\n2006"),
    ("a header with a note after it", "code_cut", "def add(x, y): # Add\n    return x + y\n\ndef divide(x, y): # Divide"),
    ("a note after the code cut", "dangling", "result = check(word)\nprint(result) # Prints"),
    ("a join cut before its test", "code_cut", "SELECT Customers.name\nFROM Customers\nINNER JOIN Orders ON Customers.id"),
    ("a poem line of one word under lines of four", "mid_sentence", "The sky is painted,\nIn hues of pink and gold,\n"
     "As the world awakens,\nShe"),
    ("a modal with nothing after it", "dangling", "The code passes input to eval(). This could"),
    ("'would be' with nothing after it", "dangling", "# A better coding style would be"),
    ("a table's first row without its closing bar", "short_row", "Top countries by density (2021):\n\n| Rank | Country"),
    ("a sentence under a list is not verse", "mid_sentence", "1. Fungi\n2. Bacteria\n3. Earthworms\n\nThese organisms play an "
     "essential role in breaking down dead"),
    ("a sentence under equations is not verse", "mid_sentence", "Where:\n- dT = T_final - T_initial\n- T_final is the final "
     "temperature\n- T_initial is the initial one\n\nIn this equation, we subtract the initial temperature"),
    ("an outline section with nothing under it", "heading_last", "I. Introduction\n- Define ergonomics\n\nII. Health\n"
     "- Fewer injuries\n\nIII. Cost-benefit analysis"),
    ("a numbered heading with nothing under it", "heading_last", "1. Listening\nWe hear every customer out before we act on "
     "it.\n\n2. Follow-up\nWe call back within a day to check the problem is solved.\n\n3. Continual Improvement"),
    ("the start of a conclusion", "clause_alone", "cos(ABC) = (8 + 8 - 32) / (2 * 8)\ncos(ABC) = -0.5\n\nSo the angle"),
    ("a bare name under a tuple assignment", "code_cut", "(x_train, y_train), (x_test, y_test) = mnist.load_data()\n"
     "x_train, x_test = x_train / 255.0, x_test / 255.0\n\nmodel"),
    ("a last item a fraction of the others", "list_item_cut", "Pairings:\n7. Grilled cheese sandwich with raspberry jam\n"
     "8. Fried chicken with sweet waffles\n9. Burger with a doughnut bun\n10. Salt"),
    ("an opening XML tag alone", "unclosed_element", "<xs:schema>\n  <xs:element name=\"contact\">\n    <xs:complexType>\n"
     "      <xs:sequence>"),
    ("an arrow with nothing after it", "ends_on_operator", "Given list: 1 -> 2 -> 3 -> 4\nAfter deleting node 3: 1 -> 2 ->"),
    ("an operator '&' at the end", "ends_on_operator", "Channels:\n\n1. **Social media** ads.\n2. **Influencer &"),
    # code
    ("code ends on a comment", "comment_last", "def extract(d):\n    name = d['name']\n    age = d['age']\n\n    # Return the extracted"),
    ("a one-word comment that introduces code", "comment_last", "X = data[['h', 'w']]\ny = data['out']\n\n#Build"),
    ("a statement without its ';'", "code_cut", "const app = express();\napp.get('/', (req, res) => {\n    res.send('Hi');\n});"
     "\n\nconst port"),
    ("a function ends on a store nothing uses", "unused_local", "def days(a, b):\n    d1 = parse(a)\n    d2 = parse(b)"),
    ("a function builds a list it never returns", "function_left_open", "def primes(n):\n    found = []\n    i = 2\n    while "
     "len(found) < n:\n        if is_prime(i):\n            found.append(i)\n        i += 1"),
    ("an if returns and nothing else does", "branch_only_return", "def max_num(a, b):\n    if a > b:\n        return a"),
    ("a function with only its docstring", "function_left_open", 'def product(xs):\n    """Find the product of all numbers."""'),
    ("a docstring of several lines and no body", "function_left_open", 'def to_decimal(b):\n    """\n    Convert a binary string.\n    """'),
    ("a swap left half done", "function_left_open", "def sort(a):\n    for i in range(len(a)):\n        for j in range(i):\n            if a[j] > a[i]:"
     "\n                tmp = a[i]\n                a[i] = a[j]"),
    ("a bracket opened on the last line", "unclosed_bracket", 'name = "John"\nage = 25\nprint("Hello " + name + ", you are " + str(age)'),
    ("a C signature without a body", "code_cut", "#include <iostream>\nusing namespace std;\n\nint main()"),
    ("a name after a comment", "code_cut", "import pandas as pd\n\n# Define the model\nmodel"),
    ("a name after an assignment", "code_cut", 'sentence = "It is a fun day."\nwords'),
    ("a doc comment documents nothing", "comment_last", "/**\n * Get the current timestamp.\n * @returns {number}\n */"),
    ("a string literal never closes", "open_quote", "import os\n\ncmd = 'aws s3"),
    ("the explanation after the code", "mid_sentence", "for row in rows:\n    print(row)\nIn this"),
    ("a statement ends on a comma", "code_cut", "def swap(arr):\n    for i in range(len(arr) - 1):\n        arr[i], arr[i+1] = "
     "arr[i+1],"),
    ("an indented tuple of names", "code_cut", "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b"),
    ("a /* comment never closes", "unclosed_string_or_comment", "function now() {\n  return Date.now();\n}\n/* Returns the time in"),
]

WHOLE = [
    ("Ruby's end", "def is_anagram?(a, b)\n  a.chars.sort == b.chars.sort\nend"),
    ("shell's done", "#!/bin/bash\nfor x in a b\ndo\n    echo $x\ndone"),
    ("Python 2 print with a comma", 'for i in range(len(arr)):\n\tprint ("%d" %arr[i]),'),
    ("a return is not a signature", "def word_count(s):\n    words = s.split()\n    return len(words)"),
    ("a trailing comment after ';'", "let arr = [2, 5];\nlet max = 0;\nconsole.log(findMax(arr)); // Output: 9"),
    ("Objective-C @end", "- (BOOL)isEmpty {\n    return [self.queue count] == 0;\n}\n\n@end"),
    ("printed output in comments", "def tri(n):\n    for i in range(n):\n        print('*' * i)\n\ntri(4)\n\n"
     "# Output:\n# *\n# **"),
    ("output right under the print", "x = to_pig_latin(s)\nprint(x)\n# elloHay orldWay!"),
    ("placeholder comments", "try:\n   # Code that can cause exception\nexcept ExceptionName:\n   # Code to handle "
     "exception"),
    ("a note that ends with a full stop", "// Walk both lists until they meet.\n// The node they meet is where the "
     "loop starts. Set its next to null."),
    ("a mixed list's last item", "The dangers:\n\n* Total surveillance of transactions\n\n* Freezing the accounts "
     "of dissidents, who cannot pay.\n\n* Cyber attacks or outages collapsing the entire financial system"),
    ("a script that builds a dict", "my_dict = {}\nfor key, value in items:\n    my_dict[key] = value"),
    ("the printed text under HTML", "<html>\n  <body>\n    <h1>Hello World</h1>\n  </body>\n</html>\n\nHello World"),
    ("Visual Basic's End Function", "Public Function Add(a As Integer, b As Integer)\n    Return a + b\nEnd Function"),
    ("an in-place sort returns nothing", "def bubble_sort(arr):\n    n = len(arr)\n    for i in range(n):\n        "
     "for j in range(0, n-i-1):\n            if arr[j] > arr[j+1]:\n                arr[j], arr[j+1] = arr[j+1], "
     "arr[j]"),
    ("a temperature named temp", "def to_kelvin(temp, unit):\n    if unit == 'C':\n        temp = temp + 273.15\n"
     "    return temp"),
    ("a whole swap", "def sort(a):\n    for i in range(len(a)):\n        for j in range(i):\n            if a[j] > a[i]:"
     "\n                tmp = a[i]\n                a[i] = a[j]\n                a[j] = tmp"),
    ("a whole table", "| Year | Rate |\n|---|---|\n| 2014 | 7.17 |\n| 2015 | 7.21 |"),
    ("code is not a grid", "list1 = [21, 56, 78, 4]\nlist2 = [56, 98, 19, 34]\nprint(merge(list1, list2))"),
    ("a loop's increment ends a script", "i = 0\nwhile i < 5:\n    print(i)\n    i += 1"),
    ("a search with a fallback", "def find(xs, x):\n    for i, v in enumerate(xs):\n        if v == x:\n"
     "            return i\n    return -1"),
    ("a name the code defined", "import pandas as pd\ndf = pd.read_csv('a.csv')\n\n# Show the table\ndf"),
    ("a comparison in Swift code", "func find(arr: [Int]) -> Int {\n  for i in 0..<arr.count {\n    if arr[i] > 0 {"
     "\n      return i\n    }\n  }\n  return -1\n}"),
    ("a two-word question that is whole", "I would not worry about it.\n\nWhy not"),
    ("a poem's short refrain", "Pondering the paths of a long life,\nWishing for a change of heart today,\nOn this "
     "cold and quiet winter day,\nAlways, always"),
    ("a unit not after a quantity", "Ingredients:\n- 2 tablespoons soy sauce\n- 1 tablespoon sesame oil\n"
     "- Rice, about a cup"),
    ("a quoted title", 'I am an AI assistant called "Open Assistant"'),
    ("indented prose that is whole", "Pay attention to:\n\n    Resolution: Look for 4K or higher.\n\n    HDR: Look "
     "for a TV that supports it."),
    ("a complete poem line", "Roses are red,\nViolets are blue,\nSugar is sweet,\nAnd so are you"),
    ("verse without full stops", "O wretched murder! Hear the spirits come!\nThe ghosts proclaim eight hundred "
     "thousand dead\nTwo million more the country they have fled\nDrove many men to kill and ethnic cleanse"),
    ("an HTML void element last", "<form>\n  <label>Name</label>\n</form>\n<br>"),
    ("__init__ that stores every parameter", "class Car:\n    def __init__(self, color, speed):\n"
     "        self.color = color\n        self.speed = speed"),
    ("imports that are used", "import numpy as np\n\narr = np.zeros(3)"),
    ("a script that calls what it defined", "def double(x):\n    return 2 * x\n\nresult = double(4)"),
    ("a Visual Basic module ended", "Module Module1\n Sub Main()\n  Console.WriteLine(1)\n End Sub\nEnd Module"),
    ("an aside that is its own sentence", "I can't browse. (Remember that I have no access to current events)"),
    ("a phone number", "(555) 123-4567"),
    ("a lone initial is not an option", "Thanks for reading,\nJ."),
    ("a condition with its result", "When to act:\n- If the fever lasts three days, call a doctor\n"
     "- If the rash spreads then go to hospital"),
    ("counting with its else", "for w in words:\n    if w in counts:\n        counts[w] += 1\n    else:\n"
     "        counts[w] = 1"),
    ("one-word items under one-word items", "Activities:\n1. Swimming\n2. Hiking\n3. Fishing"),
    ("a working step with its result", "Substituting a = 5:\n\n2(5) + 3b = 20\n10 + 3b = 20"),
    ("an empty list the code fills", "evens = []\nfor n in numbers:\n    if n % 2 == 0:\n        evens.append(n)"),
    ("a note after the code that is whole", "print(result) # prints the total"),
    ("'as it should be'", "Goals:\n- Fast enough for every user\n- Simple, as it should be"),
    ("a table whose rows all skip the closing bar", "| Rank | Country\n|---|---\n| 1 | Monaco\n| 2 | Malta"),
    ("a bare outline of titles", "I. Introduction\nII. Health\nIII. Cost-benefit analysis"),
    ("numbered titles without paragraphs", "Steps:\n1. Listening\n2. Follow-up\n3. Continual Improvement"),
    ("a return shorter than one above", "def inc(x):\n    return x + 1\n\ndef same(x):\n    return x"),
    ("a poem's last line opening on 'So'", "The night is long and cold\nThe stars are far from home\n"
     "We wander as we're told\nSo close your eyes"),
    ("a table of contents ending on its index", "Contents:\n1. Chapter 1: The Sun at the centre\n"
     "2. Chapter 2: The inner rocky planets\n3. Chapter 3: The outer gas giants\n4. Index"),
    ("a quoted headline", '"Revolutionary New Rocket Takes to the Skies: Successful Launch Marks New Era in '
     'Space"'),
    ("a short casual reply ending on a title", 'Let me see... How about "The Saw"'),
    ("items of one pattern, whole", "Landmarks:\n1. Boston - 139 landmarks\n2. New York - 125 landmarks\n"
     "3. Los Angeles - 26 landmarks"),
]


@pytest.mark.parametrize("why,rule,answer", CUT, ids=[c[0] for c in CUT])
def test_cut_is_found_by_its_rule(why, rule, answer):
    found = find_cut(answer)
    assert found is not None, why
    assert found.rule.name == rule, (why, found.cut.message)


@pytest.mark.parametrize("why,answer", WHOLE, ids=[c[0] for c in WHOLE])
def test_whole_answer_passes(why, answer):
    assert find_cut(answer) is None, find_cut(answer)


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_rule_flags_its_example_and_passes_its_counterexample(rule):
    found = find_cut(rule.flags.rstrip(), rule.prompt)
    assert found is not None and found.rule.name == rule.name, found and found.rule.name
    assert find_cut(rule.passes.rstrip(), rule.prompt) is None


def test_the_table_is_well_formed():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert all(r.family in FAMILIES and r.severity in ("error", "warning") and 0 < r.score <= 1 for r in RULES)
    assert all(r.reads and r.reads <= ANY for r in RULES)


def test_a_rule_reads_only_the_endings_it_names():
    """A cut that mid_sentence would judge is not judged after a full stop, where no sentence is open."""
    assert fired("Sleep well. Drink water.\n\nWhat sort of mentoring most interests") == {"mid_sentence"}
    assert "mid_sentence" not in fired("Sleep well. Drink water.\n\nWhat sort of mentoring most interests.")


def test_the_check_names_the_rule_in_its_evidence():
    e = Example.create([Message("user", "Name five countries in Europe."),
                        Message("assistant", "1. France\n2. Spain\n3. Italy")], Source("t", 1, 0, "openai"))
    [flag] = Truncation().check(e, Context(max_length=1024))
    assert flag.evidence["rule"] == "list_short_of_request"
    assert (flag.severity, flag.score) == ("warning", 0.7)


def test_asked_counts_reach_tables():
    rows = "| # | Country | People |\n|---|---|---|\n|1| Monaco | 38,300 |\n|2| Malta | 1,379 |"
    found = find_cut(rows, "Create a table of the top 10 countries with the highest population density.")
    assert found is not None and found.rule.name == "list_short_of_request"
    assert find_cut(rows, "Create a table of the top 2 countries with the highest population density.") is None
