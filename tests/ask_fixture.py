"""The retrieval fixture (SPEC §15): course-like documents written for these tests, and
questions whose answer is in exactly one passage, named by a phrase only that passage holds.

Used by tests/test_ask_retrieval.py (the right passage in the top 3 for ≥ 80 %) and by
bench/ask.py (which also measures the alternative engine).
"""

CONTAINERS = """# Containers and Images

## Images
An image is a read-only template made of stacked filesystem layers. Each instruction in a
Dockerfile adds a layer, and layers are shared between images that start from the same base,
which saves disk space and download time.

## Containers
A container is a running instance of an image with its own writable layer on top. Many
containers can be started from one image; deleting a container throws away its writable
layer but leaves the image untouched.

## Kernel sharing
Containers do not ship their own kernel. Every container on a host shares the host's Linux
kernel, and isolation comes from namespaces, which give each container its own view of
processes, network interfaces and mount points.

## Control groups
Control groups (cgroups) limit how much CPU time, memory and disk bandwidth a container may
use. Without cgroups one busy container could starve every other workload on the machine.

## Volumes
Data written inside a container disappears with it. Volumes keep data outside the container's
writable layer, so a database container can be replaced by a newer version without losing
its tables.

## Networking
By default containers join a bridge network and reach each other by container name through
the embedded DNS server. Publishing a port maps a port of the host to a port inside the
container so that outside clients can connect.

## Registries
A registry stores and distributes images. Pushing uploads the layers an image needs; pulling
downloads only the layers that are missing locally. Tags such as latest are movable labels,
while a digest names one exact image content.

## Virtual machines compared
A virtual machine emulates a complete computer and boots a full guest operating system on a
hypervisor. That makes it heavier and slower to start than a container, but its isolation is
stronger because guests do not share a kernel.
"""

OPERATING_SYSTEMS = """# Operating Systems Lecture Notes

## Processes and threads
A process is a program in execution with its own address space. Threads are units of
execution inside a process; they share the process's memory and open files, which makes
switching between threads cheaper than switching between processes.

## Scheduling
The scheduler decides which ready thread runs next on each CPU core. Round robin gives every
thread a fixed time slice, called a quantum, and moves it to the back of the queue when the
quantum expires. Shortest job first minimises the average waiting time but needs to know
burst lengths in advance.

## Virtual memory
Virtual memory gives each process the illusion of a large private address space. The memory
management unit translates virtual addresses to physical frames using page tables, and the
translation lookaside buffer caches recent translations.

## Page faults
When a program touches a page that is not in physical memory, the hardware raises a page
fault. The operating system then loads the page from disk, possibly evicting another page
chosen by a replacement policy such as least recently used.

## Deadlock
A deadlock needs four conditions at once: mutual exclusion, hold and wait, no preemption and
circular wait. Breaking any one of them, for example by always acquiring locks in a global
order, prevents deadlock.

## System calls
A system call is the controlled entry point from user mode into the kernel. The program
places arguments in registers and executes a trap instruction; the kernel checks the request,
performs it in privileged mode and returns the result.

## File systems
A file system maps names to blocks on disk. An inode stores a file's metadata and the
addresses of its data blocks, while directories are special files that map names to inode
numbers. Journaling writes intended changes to a log first so a crash cannot corrupt the
structure.

## Interrupts
Devices signal the processor with interrupts. The CPU saves the current state and jumps to an
interrupt handler, which acknowledges the device and defers longer work to a bottom half so
that interrupts are not blocked for long.
"""

CELL_BIOLOGY = """# Cell Biology Summary

## Mitochondria
Mitochondria are the site of cellular respiration. They oxidise glucose and fatty acids to
produce ATP through the electron transport chain on their inner membrane, and they carry their
own small circular DNA inherited from the mother.

## Ribosomes
Ribosomes build proteins by reading messenger RNA three bases at a time. Free ribosomes make
proteins for the cytosol, while ribosomes bound to the rough endoplasmic reticulum make
proteins destined for membranes or secretion.

## Photosynthesis
Chloroplasts capture light energy with chlorophyll. The light reactions split water and
release oxygen, and the Calvin cycle fixes carbon dioxide into sugar using the ATP and NADPH
produced by the light reactions.

## Mitosis
Mitosis divides one nucleus into two genetically identical nuclei. Its phases are prophase,
metaphase, anaphase and telophase; during anaphase the sister chromatids are pulled to
opposite poles by the spindle fibres.

## Meiosis
Meiosis produces four haploid gametes from one diploid cell through two divisions. Crossing
over between homologous chromosomes in prophase I creates new combinations of alleles, which
is a source of genetic variation.

## DNA replication
DNA replication is semi-conservative: each new double helix keeps one old strand. Helicase
unwinds the helix, and DNA polymerase adds nucleotides only in the five-prime to three-prime
direction, so the lagging strand is made in Okazaki fragments joined by ligase.

## Enzymes
Enzymes are biological catalysts that lower the activation energy of a reaction. Each enzyme
has an active site that fits its substrate; high temperature or extreme pH denatures the
enzyme and destroys that shape.

## Cell membrane
The cell membrane is a phospholipid bilayer with embedded proteins. Small non-polar molecules
diffuse straight through it, while ions need channel proteins, and active transport pumps such
as the sodium-potassium pump spend ATP to move ions against their gradient.
"""

ECONOMICS = """# Introduction to Economics

## Opportunity cost
The opportunity cost of a choice is the value of the best alternative given up. A student who
spends an evening working a paid shift gives up the study time, and that lost study time is
the real cost of the shift.

## Supply and demand
The demand curve slopes downward because buyers purchase more at lower prices; the supply
curve slopes upward because producers offer more at higher prices. The market settles at the
equilibrium price where the quantity demanded equals the quantity supplied.

## Price elasticity
Price elasticity of demand measures how strongly the quantity demanded responds to a price
change. Goods with close substitutes are elastic, while necessities such as insulin are
inelastic: a price rise barely reduces the amount bought.

## Inflation
Inflation is a sustained rise in the general price level, usually measured with a consumer
price index. Central banks raise interest rates to cool inflation, because dearer credit
reduces spending and investment.

## Gross domestic product
Gross domestic product is the market value of all final goods and services produced in a
country in a year. Real GDP adjusts for inflation, so it shows whether output actually grew.

## Monopoly
A monopoly is a single seller of a product without close substitutes. Because it faces the
whole market demand curve, a monopolist restricts output and charges a price above marginal
cost, creating a deadweight loss.

## Comparative advantage
Countries gain from trade by specialising in goods where they have a comparative advantage,
meaning a lower opportunity cost than their partners, even when one country is better at
producing everything.

## Externalities
An externality is a cost or benefit that falls on people outside a transaction. Pollution is
a negative externality; a tax equal to the external damage, known as a Pigouvian tax, makes
producers account for it.
"""

# A PDF as extraction leaves it: pages separated by form feeds, no Markdown headings.
HISTORY_PDF = "\f".join(
    [
        """Modern European History, week 4

The French Revolution began in 1789 when the Estates-General met for the first time since
1614. The Third Estate declared itself the National Assembly and swore the Tennis Court Oath
not to separate until France had a constitution.""",
        """The storming of the Bastille on 14 July 1789 became the symbol of the revolution. The
Declaration of the Rights of Man and of the Citizen proclaimed liberty, equality before the
law and popular sovereignty.""",
        """The Reign of Terror from 1793 to 1794 was directed by the
Committee of Public Safety under Robespierre. Tens of thousands were executed by guillotine
before Robespierre himself fell in the coup of Thermidor.""",
        """The Industrial Revolution started in Britain in the late eighteenth century. Coal,
iron ore, navigable rivers and capital from overseas trade allowed factories powered by
James Watt's improved steam engine to replace workshops.""",
        """The Congress of Vienna in 1815 redrew the map of Europe after Napoleon's defeat at
Waterloo. Metternich pursued a balance of power so that no single state could dominate the
continent again.""",
    ]
)

DOCUMENTS = {
    "containers.md": CONTAINERS,
    "operating-systems.md": OPERATING_SYSTEMS,
    "cell-biology.md": CELL_BIOLOGY,
    "economics.md": ECONOMICS,
    "history-week4.pdf": HISTORY_PDF,
}

# (question, document, a phrase that only the answering passage holds)
QUESTIONS = [
    (
        "What is the difference between a kernel and an image?",
        "containers.md",
        "read-only template",
    ),
    ("Why are layers shared between images?", "containers.md", "saves disk space"),
    (
        "What happens to the writable layer when a container is deleted?",
        "containers.md",
        "throws away its writable",
    ),
    ("Do containers have their own kernel?", "containers.md", "shares the host's Linux"),
    ("What do namespaces isolate?", "containers.md", "own view of"),
    ("How can I limit the memory a container uses?", "containers.md", "Control groups (cgroups)"),
    (
        "How do I keep database data when replacing a container?",
        "containers.md",
        "Volumes keep data",
    ),
    ("How do containers find each other on a bridge network?", "containers.md", "embedded DNS"),
    ("What does publishing a port do?", "containers.md", "maps a port of the host"),
    ("What is the difference between a tag and a digest?", "containers.md", "movable labels"),
    ("Why is a virtual machine slower to start than a container?", "containers.md", "hypervisor"),
    ("How do threads differ from processes?", "operating-systems.md", "units of"),
    ("What is a quantum in round robin scheduling?", "operating-systems.md", "called a quantum"),
    (
        "Which scheduling algorithm minimises average waiting time?",
        "operating-systems.md",
        "Shortest job first",
    ),
    (
        "What does the translation lookaside buffer cache?",
        "operating-systems.md",
        "lookaside buffer caches",
    ),
    ("What happens on a page fault?", "operating-systems.md", "raises a page"),
    ("What are the four conditions for deadlock?", "operating-systems.md", "four conditions"),
    (
        "How does a program enter the kernel with a system call?",
        "operating-systems.md",
        "trap instruction",
    ),
    ("What does an inode store?", "operating-systems.md", "inode stores"),
    ("Why do file systems use journaling?", "operating-systems.md", "Journaling writes"),
    ("What is an interrupt handler's bottom half for?", "operating-systems.md", "bottom half"),
    ("Where is ATP produced in the cell?", "cell-biology.md", "electron transport chain"),
    ("From whom is mitochondrial DNA inherited?", "cell-biology.md", "inherited from the mother"),
    (
        "What do ribosomes on the rough endoplasmic reticulum make?",
        "cell-biology.md",
        "destined for membranes",
    ),
    ("What does the Calvin cycle do?", "cell-biology.md", "Calvin cycle fixes"),
    ("Which gas is released by the light reactions?", "cell-biology.md", "release oxygen"),
    ("What happens during anaphase?", "cell-biology.md", "during anaphase"),
    ("How does crossing over create genetic variation?", "cell-biology.md", "Crossing"),
    ("Why is the lagging strand made in Okazaki fragments?", "cell-biology.md", "Okazaki"),
    ("What denatures an enzyme?", "cell-biology.md", "denatures the"),
    ("How does the sodium-potassium pump move ions?", "cell-biology.md", "sodium-potassium pump"),
    ("What is opportunity cost?", "economics.md", "best alternative given up"),
    ("Why does the demand curve slope downward?", "economics.md", "slopes downward"),
    ("Why is insulin inelastic?", "economics.md", "necessities such as insulin"),
    ("How do central banks fight inflation?", "economics.md", "raise interest rates"),
    ("What does real GDP adjust for?", "economics.md", "Real GDP adjusts"),
    ("Why does a monopoly create a deadweight loss?", "economics.md", "deadweight loss"),
    ("What is comparative advantage?", "economics.md", "specialising in goods"),
    ("What is a Pigouvian tax?", "economics.md", "Pigouvian"),
    ("What was the Tennis Court Oath?", "history-week4.pdf", "Tennis Court Oath"),
    ("When was the Bastille stormed?", "history-week4.pdf", "storming of the Bastille"),
    ("Who directed the Reign of Terror?", "history-week4.pdf", "Committee of Public Safety"),
    (
        "Why did the Industrial Revolution start in Britain?",
        "history-week4.pdf",
        "navigable rivers",
    ),
    (
        "What did Metternich pursue at the Congress of Vienna?",
        "history-week4.pdf",
        "balance of power",
    ),
    ("Which engine powered the early factories?", "history-week4.pdf", "steam engine"),
]

# Where a few answers are, to check pages and headings.
PAGES = {"Tennis Court Oath": 1, "storming of the Bastille": 2, "balance of power": 5}
