"""Small fixed corpora of plain English, written for this project (nothing downloaded).

``GUARD_TEXTS`` is the do-no-harm guard: the validator measures the language-model loss of
these sentences before and after a miner's adapter, so data that wrecks general text (at the
expense of the tasks) shows up. ``PRETRAIN_TEXTS`` is the general-text share of the embedded
base model's short pretraining. The two lists are disjoint on purpose: the guard measures
text the base never trained on, as a held-out set should.

Changing ``GUARD_TEXTS`` changes the guard's numbers, so it bumps ``EVAL_VERSION``
(validator/evalsets/cot.py); changing ``PRETRAIN_TEXTS`` changes the base checkpoint's hash.
"""

from __future__ import annotations

GUARD_TEXTS: tuple[str, ...] = (
    "The morning bus was late again, so she walked the last mile to work.",
    "A good map shows the roads, the rivers and the hills in one glance.",
    "He kept his tools in a wooden box under the stairs.",
    "Rain fell all night and the garden smelled of wet earth by dawn.",
    "The library opens at nine and closes at six on weekdays.",
    "Our neighbour grows tomatoes, beans and tall yellow sunflowers.",
    "The baker lifts the first loaves out of the oven before sunrise.",
    "Children ran along the beach, chasing the foam of each wave.",
    "She wrote the address on the envelope and added a stamp.",
    "The museum has a small room full of old clocks that still tick.",
    "Fresh snow covered the cars parked along the narrow street.",
    "The teacher asked the class to read the first chapter by Friday.",
    "A cat slept in the sun on the warm stone wall.",
    "They painted the kitchen a pale green and hung new shelves.",
    "The train crossed the bridge slowly, high above the valley.",
    "He forgot his umbrella at the cafe and had to go back for it.",
    "The farmer checks the fence every evening before dark.",
    "Most birds in the park stay near the pond during winter.",
    "The old radio still works if you tap it twice on the side.",
    "We packed sandwiches, apples and a flask of tea for the hike.",
    "The city council will meet on Tuesday to discuss the new park.",
    "A strong wind blew the leaves across the empty playground.",
    "Her brother fixes bicycles in a small shop near the station.",
    "The soup needs more salt and a little black pepper.",
    "Ships wait outside the harbour until the tide comes in.",
    "The festival ends with music and lanterns on the river.",
    "Please close the window before you leave the room.",
    "The doctor said he should rest for a few days and drink water.",
    "Tall pine trees line both sides of the mountain road.",
    "The printer on the second floor is out of paper again.",
    "She learned to swim in a cold lake one summer long ago.",
    "The shop on the corner sells newspapers, bread and milk.",
    "Every spring the swallows return to nest under the roof.",
    "The meeting was moved to the small room at the end of the hall.",
    "He planted an oak tree the year his daughter was born.",
    "The bridge was closed for repairs, so we took the ferry.",
    "A thin fog rose from the fields as the sun went down.",
    "The recipe calls for two eggs, flour, butter and sugar.",
    "Visitors must sign the book at the front desk.",
    "The stars were bright over the desert after midnight.",
)

PRETRAIN_TEXTS: tuple[str, ...] = (
    "The road to the village winds between stone walls and sheep fields.",
    "She opened the window and listened to the rain on the roof.",
    "A small boat drifted near the shore as the fishermen mended nets.",
    "The market is busy on Saturday, with fruit, cheese and flowers.",
    "He reads the newspaper every morning with a cup of strong coffee.",
    "The clock in the tower rings once every hour.",
    "Snow on the hills means the winter will be long this year.",
    "The children built a small house of sticks at the edge of the wood.",
    "Our train leaves at seven, so we should go to bed early.",
    "The garden gate creaks when the wind blows from the west.",
    "She counted the chairs twice before the guests arrived.",
    "The river is high after a week of heavy rain.",
    "A quiet street runs behind the school to the old church.",
    "He wrote a short letter to his aunt and posted it on Monday.",
    "The lamp on the desk gives a warm yellow light.",
    "Bees move from flower to flower in the afternoon sun.",
    "The kettle whistled and the kitchen filled with steam.",
    "They walked along the canal until the lights came on.",
    "Each book on the shelf had a name written inside the cover.",
    "The wind turned cold as the clouds moved in from the sea.",
    "A dog barked twice and then the farm was silent again.",
    "The path climbs through the forest to a view of the lake.",
    "Workers repaired the roof before the autumn storms.",
    "The bread is best eaten warm with a little butter.",
)
