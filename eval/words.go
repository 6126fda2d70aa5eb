package eval

import "strings"

// Word lists for needle keys ("adjective-noun", as RULER names its keys)
// and for the common-words task. Written for this project: plain, common
// English words, each a single lowercase word.
var (
	adjectives = strings.Fields(`
able acid angry aloof amber ancient anxious arctic average awful bashful bitter bland blue
bold brave bright brisk broad bumpy busy calm careful cheap cheerful chilly clever cloudy
clumsy coarse cold cozy crisp cruel curly damp dark dear deep dense dizzy dry dull dusty
eager early earnest easy elastic empty equal exact faint fair fancy fast fierce fine firm
flat fluffy fond fragile fresh friendly frozen funny fuzzy gentle giant glad gloomy golden
grand greasy great green grumpy hairy handy happy hard harsh hasty heavy hidden hollow
honest huge humble hungry icy idle jolly juicy keen kind large lazy lean light little
lively lonely loose loud lucky mad massive meek merry mighty mild misty modern moist
narrow neat nervous noble noisy odd old orange pale patient plain polite poor precious
pretty proud purple quick quiet rapid rare raw red rich rigid ripe robust rough round
royal rusty sad safe salty scarce sharp shiny short shy silent silly simple sleepy slim
slow small smooth soft solid sour spicy stale steady steep sticky stormy strange strict
strong sturdy sunny sweet swift tall tame tender thick thin tidy tiny tough tricky ugly
upset vast violet vivid warm wary weak wealthy weary wet white wide wild windy wise witty
wooden yellow young zany zealous`)

	nouns = strings.Fields(`
acorn actor airport anchor ankle apple apron arch arrow attic avenue axe badge bakery
balloon bamboo banana banjo barn basket bat beach beacon bean beard bee beetle bell bench
berry bicycle blanket blossom boat bolt bonnet boot bottle boulder bowl box bracelet
branch bread brick bridge broom bucket buffalo bull bundle butter button cabin cactus
cake camel candle canoe canyon cap captain carpet carrot castle cat cave cellar chair
chalk cherry chest chicken chimney circus cliff clock cloud clover coat cobweb coconut
coin comet compass cookie copper coral corn cottage cradle crane crayon creek cricket
crown crystal cup curtain cushion daisy deer desert diamond dinosaur doctor dolphin
donkey door dragon drum duck eagle easel elbow elephant engine falcon feather fence
fern ferry fiddle finch flag flame flute fork fossil fountain fox frog garden garlic
gate giraffe glacier glove goat gondola goose grape guitar hammer harbor harp hat hawk
hedge helmet hill honey horse hut iceberg igloo island jacket jar jelly jewel kettle
key kitten kite ladder lake lamp lantern lemon leopard letter library lighthouse lily
lion lizard lobster locket magnet mango maple marble meadow melon mirror mitten monkey
moon moose mountain mouse mushroom needle nest nickel notebook oak oar ocean octopus
olive onion orchard ostrich otter owl oyster paddle palace panda parrot peach peacock
pearl pebble pencil penguin pepper piano pickle pillow pine pirate plum pocket pond
poppy potato pumpkin puppet puzzle quail quilt rabbit raccoon radish raft rainbow
raven ribbon river robin rocket rose saddle sailor salmon sandal satchel saucer scarf
scissors seal shark sheep shell ship shovel skate sled slipper snail snowflake sock
sparrow spider spoon squirrel stable statue stone storm straw sunflower swan sweater
table teapot temple tent thimble thistle thunder tiger toad tomato tower tractor
trumpet tulip turtle umbrella unicorn valley vase violin volcano wagon walnut walrus
wand whale wheel whistle willow window wizard wolf yacht zebra`)

	verbs = strings.Fields(`
accept admire answer argue arrive bake balance bargain bathe beg behave belong blink
boast boil borrow bounce breathe bring build bury calculate carry carve catch celebrate
chase cheer chew chop clap climb collect comb complain cook count crawl cross dance
decide deliver describe dig discover drag draw dream drift drink drive drop earn enjoy
escape explain explore fasten fetch fill fix float fold follow forgive gather giggle
glide grab grow guard guess hammer handle hang hike hop hug hum hunt hurry imagine
invent invite jog join juggle jump kick knit knock laugh launch lend lift listen load
march measure melt mend mix nod obey offer open order pack paint pause peel pinch plant
play polish pour pray prefer print promise pull punch push question race rain reach
read relax remember repair rescue rest return ride rinse roar roll rub run sail scrub
search shake shout sing skip sleep slide smile sneeze snore sort spell spill splash
stir stretch swim swing talk taste teach throw tickle travel trust tumble twist wander
wash watch wave whisper whistle wink wish wonder wrap write yawn yell`)
)
