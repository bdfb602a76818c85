"""The engine for the examples: a model by name (e.g. ``openai/gpt-4o`` with OPENAI_API_KEY
set) from the command line, or, with no argument, a scripted engine that answers plausibly
offline, like the C++ examples' (examples/example_engine.h)."""

import sys

import textgrad_cpp as tg

LIS_CODE = (
    "def longest_increasing_subsequence(nums):\n"
    "    import bisect\n    tails = []\n    for x in nums:\n"
    "        i = bisect.bisect_left(tails, x)\n"
    "        tails[i:i + 1] = [x]\n    return len(tails)"
)


def offline_answer(request):
    user = request.user_text()
    images = request.has_images()
    if request.phase == tg.Phase.forward:
        if images:
            return "This image shows a bee."
        if "shirts" in user:
            return ("Drying time is proportional: 25 shirts take 1 hour, so 30 shirts take "
                    "1.2 hours.")
        return "Reasoning step by step... Answer: 7"
    if request.phase == tg.Phase.loss:
        if images:
            return ("The answer names the insect but says nothing about the flowers, the pollen "
                    "on its legs, or the setting.")
        return ("The reasoning assumes drying time grows with the number of shirts. Shirts dry "
                "in parallel under the sun, so the time does not depend on how many there are.")
    prompt_role = "structured system prompt" in user  # prompt_optimization.py's parameter
    if request.phase == tg.Phase.backward:
        if prompt_role:
            return ("The model miscounts when items come in groups ('three violins'). Ask it to "
                    "list every item with its quantity before adding them up.")
        return ("The answer treats drying as sequential. State that shirts dry in parallel, so "
                "30 shirts still take about 1 hour, given enough space in the sun.")
    if request.phase == tg.Phase.reduce:
        return "All sources agree: account for parallel drying."
    if request.phase == tg.Phase.update:
        if prompt_role:
            return ("<IMPROVED_VARIABLE>You will answer a reasoning question. List every item "
                    "with its quantity, then add the quantities. The last line of your response "
                    "should be of the following format: 'Answer: $VALUE' where VALUE is a "
                    "numerical value.</IMPROVED_VARIABLE>")
        if "code" in user:
            return f"<IMPROVED_VARIABLE>{LIS_CODE}</IMPROVED_VARIABLE>"
        if images:
            return ("<IMPROVED_VARIABLE>A honeybee gathers pollen on a cluster of small flowers; "
                    "pollen is packed on its hind legs.</IMPROVED_VARIABLE>")
        return ("<IMPROVED_VARIABLE>It still takes about 1 hour: the shirts dry in parallel, as "
                "long as all 30 fit in the sun.</IMPROVED_VARIABLE>")
    return "ok"


def example_engine():
    if len(sys.argv) > 1:
        return tg.get_engine(sys.argv[1])
    print("(offline: scripted answers; pass an engine name such as openai/gpt-4o to use a real "
          "model)", file=sys.stderr)
    return tg.ScriptedEngine(offline_answer)
