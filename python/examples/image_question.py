"""The bee walkthrough: answer a question about an image, criticize the answer with an
image-grounded loss, and improve it.
    python3 image_question.py [ENGINE [IMAGE]]"""

import os
import sys

import textgrad_cpp as tg
from offline_engine import example_engine

engine = example_engine()
here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "..", "tests", "data", "bee.png")
image = tg.Variable(image_path=path, role_description="image to answer a question about",
                    requires_grad=False)
question = tg.Variable("What do you see in this image?", role_description="question",
                       requires_grad=False)
response = tg.MultimodalLLMCall(engine)([image, question])
print("Answer:", response.value)
response.set_role_description("answer to the question about the image")
loss_fn = tg.ImageQALoss(
    "Does this seem like a complete and good answer for the image? Criticize. Do not provide a "
    "new answer.",
    engine=engine,
)
loss = loss_fn(question, image, response)
print("Critique:", loss.value)
optimizer = tg.TGD([response], engine=engine)
loss.backward(engine)
optimizer.step()
print("Improved answer:", response.value)
